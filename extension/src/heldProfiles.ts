// The profiles this window held, remembered in the workspace state, so that after a window reload
// (or a helper restart) the window connects them again; Disconnect forgets a profile.
import * as vscode from "vscode";
import { workspaceRootPath } from "./codeLensRunner";
import type { HelperClient } from "./helperClient";
import { errorMessage, log } from "./logging";
import type { ProfileStore } from "./profiles";
import { Method, type ProfileStatus } from "./protocol";

const KEY = "colablink.heldProfiles";

export class HeldProfiles implements vscode.Disposable {
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly state: vscode.Memento,
    private readonly helper: HelperClient,
    private readonly profiles: ProfileStore,
  ) {
    this.subscriptions = [
      helper.onStatusChanged.event(({ status }) => {
        if (status.state === "connected") {
          void this.remember(status.profile);
        }
      }),
      helper.onStarted.event(() => void this.reconnect()),
    ];
  }

  private names(): string[] {
    return this.state.get<string[]>(KEY, []);
  }

  private async remember(profile: string): Promise<void> {
    if (!this.names().includes(profile)) {
      await this.state.update(KEY, [...this.names(), profile]);
    }
  }

  async forget(profile: string): Promise<void> {
    await this.state.update(KEY, this.names().filter((name) => name !== profile));
  }

  private async reconnect(): Promise<void> {
    for (const profile of this.names()) {
      log().info(`${profile}: this window held it before; connecting again.`);
      try {
        const status = await this.helper.request<ProfileStatus>(Method.CONNECT, { workspaceRoot: workspaceRootPath(), profile });
        this.profiles.put(status);
      } catch (error) {
        log().warn(`${profile}: could not connect again (${errorMessage(error)}); use Connect.`);
        await this.forget(profile);
      }
    }
  }

  dispose(): void {
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
  }
}
