// Pure: what a profile's status changes mean as a story (a log line each: drop, each failed try,
// recovery), and when to say once that the runtime may have been restarted. A restarted Colab
// runtime is a new machine (new address, new host keys): the old one never answers again.
import type { ProfileStatus } from "./protocol";
import { isLinkDown } from "./statusText";

/** Failed tries in a row after which the "restarted?" question is asked. */
export const RESTART_HINT_AFTER_TRIES = 3;

export interface StoryStep {
  /** A line for the log (its channel adds the time), or undefined when nothing happened. */
  line?: string;
  /** True exactly once per outage, when it has lasted RESTART_HINT_AFTER_TRIES failed tries. */
  suspectRestart: boolean;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

/** Follows one profile's statuses in order; `now` is in milliseconds. */
export class ConnectionStory {
  private previous: ProfileStatus | undefined;
  private downSince: number | undefined;
  private failedTries = 0;
  private hinted = false;

  constructor(private readonly hintAfterTries = RESTART_HINT_AFTER_TRIES) {}

  /** Failed tries of the current outage (0 while connected). */
  get tries(): number {
    return this.failedTries;
  }

  next(status: ProfileStatus, now: number): StoryStep {
    const before = this.previous;
    this.previous = status;
    const where = `${status.host}:${status.port}`;
    const name = status.profile;
    const down = isLinkDown(status);
    const wasDown = this.downSince !== undefined;
    if (status.state === "connecting") {
      // A (re)connect starting afresh; its outcome is the next status.
      this.reset();
      return { suspectRestart: false };
    }
    if (status.state === "disconnected") {
      this.reset();
      return { line: before && before.state !== "disconnected" ? `${name}: disconnected from ${where}` : undefined, suspectRestart: false };
    }
    if (status.state === "error") {
      const line = before?.state === "error" && before.lastError === status.lastError ? undefined : `${name}: ${status.lastError ?? "error"}`;
      return { line, suspectRestart: false };
    }
    if (down) {
      if (!wasDown) {
        this.downSince = now;
      }
      // Each try ends in "disconnected" (with the reason) before the next wait.
      const failedTry = status.syncState === "disconnected" && before?.syncState !== "disconnected";
      if (failedTry) {
        this.failedTries += 1;
      }
      let line: string | undefined;
      if (!wasDown) {
        line = `${name}: the link to ${where} dropped${status.lastError ? ` (${status.lastError})` : ""}`;
      } else if (failedTry) {
        line = `${name}: try ${this.failedTries} to reach ${where} failed${status.lastError ? ` (${status.lastError})` : ""}, down for ${seconds(now - (this.downSince ?? now))}`;
      } else if (status.syncState === "retrying" && before?.syncState !== "retrying" && status.retryInSeconds !== null) {
        line = `${name}: next try in ${Math.ceil(status.retryInSeconds)} s`;
      }
      const suspectRestart = !this.hinted && this.failedTries >= this.hintAfterTries;
      if (suspectRestart) {
        this.hinted = true;
      }
      return { line, suspectRestart };
    }
    if (status.state === "connected") {
      const since = this.downSince;
      this.reset();
      if (since !== undefined) {
        return { line: `${name}: back on ${where} after ${seconds(now - since)}`, suspectRestart: false };
      }
      if (before?.state !== "connected") {
        return { line: `${name}: connected to ${where}`, suspectRestart: false };
      }
      if (status.syncState === "halted" && before.syncState !== "halted") {
        return { line: `${name}: sync halted${status.lastError ? `: ${status.lastError}` : ""}`, suspectRestart: false };
      }
    }
    return { suspectRestart: false };
  }

  private reset(): void {
    this.downSince = undefined;
    this.failedTries = 0;
    this.hinted = false;
  }
}

/** The outage a "restarted?" notification speaks of is over: the link is back, or was let go. */
export function outageOver(status: ProfileStatus): boolean {
  return status.state === "disconnected" || (status.state === "connected" && !isLinkDown(status));
}

function commandLink(label: string, command: string, profile: string): string {
  return `[${label}](command:${command}?${encodeURIComponent(JSON.stringify([profile]))})`;
}

/** The "restarted?" notification: what happened, and the two ways out as command links. */
export function restartHint(status: ProfileStatus, tries: number): { title: string; actions: string } {
  return {
    title:
      `ColabLink: ${status.host}:${status.port} has not answered ${tries} tries in a row. ` +
      "The runtime may have been restarted: a restarted Colab runtime is a new machine with new connection info.",
    actions: `${commandLink("Reconnect Now", "colablink.reconnectNow", status.profile)} · ${commandLink(
      "Paste New Connection Info",
      "colablink.pasteConnectionInfo",
      status.profile,
    )}`,
  };
}
