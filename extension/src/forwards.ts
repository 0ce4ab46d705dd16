// The forwards this window opened, and opening one the way Remote-SSH does: same port number first.
import * as vscode from "vscode";
import { HelperError, type HelperClient } from "./helperClient";
import type { ForwardEntry } from "./portsModel";
import type { ProfileStore } from "./profiles";
import { ErrorCode, Method, type ForwardParams, type ForwardResult } from "./protocol";

export class Forwards implements vscode.Disposable {
  private entries: ForwardEntry[] = [];
  readonly onDidChange = new vscode.EventEmitter<void>();
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly helper: HelperClient,
    profiles: ProfileStore,
  ) {
    // Disconnect and a helper restart close the helper's forwards: forget ours with them.
    this.subscription = profiles.onDidChange.event(() => {
      const live = this.entries.filter((f) => {
        const state = profiles.get(f.profile)?.state;
        return helper.state === "running" && state !== undefined && state !== "disconnected";
      });
      if (live.length !== this.entries.length) {
        this.entries = live;
        this.onDidChange.fire();
      }
    });
  }

  all(): readonly ForwardEntry[] {
    return this.entries;
  }

  /** Forward the runtime's `remoteHost:remotePort` on the same local port when free, else any. */
  async open(profile: string, remotePort: number, remoteHost = "127.0.0.1"): Promise<ForwardEntry> {
    const params: ForwardParams = { profile, remotePort, remoteHost };
    let result: ForwardResult;
    try {
      result = await this.helper.request<ForwardResult>(Method.FORWARD, { ...params, localPort: remotePort });
    } catch (error) {
      if (!(error instanceof HelperError && error.code === ErrorCode.USAGE)) {
        throw error;
      }
      result = await this.helper.request<ForwardResult>(Method.FORWARD, params);
    }
    const entry: ForwardEntry = { profile, remotePort, remoteHost, localPort: result.localPort };
    this.entries = [...this.entries, entry];
    this.onDidChange.fire();
    return entry;
  }

  async stop(entry: ForwardEntry): Promise<void> {
    this.entries = this.entries.filter((f) => f !== entry);
    this.onDidChange.fire();
    await this.helper.request(Method.UNFORWARD, { profile: entry.profile, localPort: entry.localPort });
  }

  dispose(): void {
    this.subscription.dispose();
    this.onDidChange.dispose();
  }
}
