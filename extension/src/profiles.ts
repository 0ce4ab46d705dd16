// The latest status of every profile, as the helper reports it.
import * as vscode from "vscode";
import type { HelperClient } from "./helperClient";
import { errorMessage, log } from "./logging";
import { Method, type ProfileStatus, type StatusResult } from "./protocol";

export class ProfileStore implements vscode.Disposable {
  private readonly statuses = new Map<string, ProfileStatus>();
  private readonly receivedAt = new Map<string, number>();
  private readonly subscriptions: vscode.Disposable[] = [];
  readonly onDidChange = new vscode.EventEmitter<void>();
  /** True while a Connect command runs, so the status bar can say "connecting…" at once. */
  connecting = false;

  constructor(private readonly helper: HelperClient) {
    this.subscriptions.push(
      helper.onStatusChanged.event(({ status }) => this.put(status)),
      helper.onStarted.event(() => void this.refresh()),
      helper.onStateChanged.event(() => this.onDidChange.fire()),
    );
  }

  all(): ProfileStatus[] {
    return [...this.statuses.values()];
  }

  get(profile: string): ProfileStatus | undefined {
    return this.statuses.get(profile);
  }

  put(status: ProfileStatus): void {
    this.statuses.set(status.profile, status);
    this.receivedAt.set(status.profile, Date.now());
    this.onDidChange.fire();
  }

  /** Milliseconds since the helper last reported on `profile`, for counting retries down. */
  ageMs(profile: string): number {
    return Date.now() - (this.receivedAt.get(profile) ?? Date.now());
  }

  setConnecting(value: boolean): void {
    this.connecting = value;
    this.onDidChange.fire();
  }

  async refresh(): Promise<void> {
    try {
      const result = await this.helper.request<StatusResult>(Method.STATUS, {});
      this.statuses.clear();
      for (const status of result.profiles) {
        this.statuses.set(status.profile, status);
        this.receivedAt.set(status.profile, Date.now());
      }
      this.onDidChange.fire();
    } catch (error) {
      log().warn(`Reading the helper's status: ${errorMessage(error)}`);
    }
  }

  dispose(): void {
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
    this.onDidChange.dispose();
  }
}
