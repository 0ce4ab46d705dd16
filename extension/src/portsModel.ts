// Pure: the runtime's listening ports and this window's forwards → what to offer and what to list.
import type { ProfileStatus, RuntimePort } from "./protocol";

/** A forward this window opened: the runtime's `remoteHost:remotePort` on `localhost:localPort`. */
export interface ForwardEntry {
  profile: string;
  remotePort: number;
  remoteHost: string;
  localPort: number;
}

export interface PortRow {
  profile: string;
  port: RuntimePort;
  forward: ForwardEntry | undefined;
  label: string;
  description: string;
  tooltip: string;
}

/** "6006 (tensorboard)": the process name as the runtime reported it, already cleaned there. */
export function portName(port: RuntimePort): string {
  return port.process ? `${port.port} (${port.process})` : String(port.port);
}

/** One key per listening socket's holder: a server restarted on the same port is offered anew. */
export function offerKey(profile: string, port: RuntimePort): string {
  return `${profile}\n${port.host}:${port.port}\n${port.pid ?? ""}`;
}

export function matchesForward(profile: string, port: RuntimePort, forward: ForwardEntry): boolean {
  return forward.profile === profile && forward.remotePort === port.port && forward.remoteHost === port.host;
}

/**
 * Ports of connected profiles not offered before and not forwarded yet; `offered` is updated.
 * Keys of ports that stopped listening are dropped, so the set stays as small as the port list.
 */
export function newOffers(
  statuses: readonly ProfileStatus[],
  forwards: readonly ForwardEntry[],
  offered: Set<string>,
): { profile: string; port: RuntimePort }[] {
  const offers: { profile: string; port: RuntimePort }[] = [];
  const current = new Set<string>();
  for (const status of statuses) {
    if (status.state !== "connected") {
      // A link that is down says nothing about which ports stopped: keep their keys.
      for (const key of offered) {
        if (key.startsWith(`${status.profile}\n`)) {
          current.add(key);
        }
      }
      continue;
    }
    for (const port of status.ports) {
      const key = offerKey(status.profile, port);
      current.add(key);
      if (!offered.has(key) && !forwards.some((f) => matchesForward(status.profile, port, f))) {
        offers.push({ profile: status.profile, port });
      }
    }
  }
  for (const key of [...offered]) {
    if (!current.has(key)) {
      offered.delete(key);
    }
  }
  for (const offer of offers) {
    offered.add(offerKey(offer.profile, offer.port));
  }
  return offers;
}

export function offerText(port: RuntimePort): string {
  return `Port ${portName(port)} is listening on the runtime.`;
}

/** What a forward's note says; the port taken here is named when another one was used. */
export function forwardedText(remotePort: number, localPort: number): string {
  const taken = localPort === remotePort ? "" : ` (port ${remotePort} is taken on this machine)`;
  return `Runtime port ${remotePort} is now localhost:${localPort}${taken}.`;
}

/** The Ports view's rows: every listening port of a connected profile, forwarded or not. */
export function portRows(statuses: readonly ProfileStatus[], forwards: readonly ForwardEntry[]): PortRow[] {
  const rows: PortRow[] = [];
  const several = statuses.filter((s) => s.state === "connected").length > 1;
  for (const status of statuses) {
    if (status.state !== "connected") {
      continue;
    }
    for (const port of status.ports) {
      const forward = forwards.find((f) => matchesForward(status.profile, port, f));
      const where = forward ? `→ localhost:${forward.localPort}` : "not forwarded";
      const process = port.process ?? "unknown process";
      const pid = port.pid === null ? "" : `, pid ${port.pid}`;
      rows.push({
        profile: status.profile,
        port,
        forward,
        label: String(port.port),
        description: `${process} ${where}${several ? ` · ${status.profile}` : ""}`,
        tooltip: `${process}${pid} listens on ${port.address}:${port.port} on ${status.profile}; ${where}.`,
      });
    }
  }
  return rows.sort((a, b) => a.port.port - b.port.port || a.profile.localeCompare(b.profile));
}
