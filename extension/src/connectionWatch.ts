// Writes each profile's connection story to the ColabLink log (its lines carry the time), and asks
// once per outage whether the runtime was restarted, with the two ways out.
import * as vscode from "vscode";
import { pasteNewConnectionInfo, reconnectNow } from "./connectFlow";
import { ConnectionStory } from "./connectionStory";
import type { HelperClient } from "./helperClient";
import { errorMessage, log, showError } from "./logging";
import type { ProfileStore } from "./profiles";
import type { ProfileStatus } from "./protocol";

export const RECONNECT_NOW = "Reconnect Now";
export const PASTE_NEW_INFO = "Paste New Connection Info";

export class ConnectionWatch implements vscode.Disposable {
  private readonly stories = new Map<string, ConnectionStory>();
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly helper: HelperClient,
    private readonly profiles: ProfileStore,
  ) {
    this.subscriptions = [helper.onStatusChanged.event(({ status }) => this.observe(status))];
  }

  private observe(status: ProfileStatus): void {
    let story = this.stories.get(status.profile);
    if (!story) {
      story = new ConnectionStory();
      this.stories.set(status.profile, story);
    }
    const step = story.next(status, Date.now());
    if (step.line) {
      log().info(step.line);
    }
    if (step.suspectRestart) {
      void this.askAboutRestart(status, story.tries);
    }
  }

  private async askAboutRestart(status: ProfileStatus, tries: number): Promise<void> {
    const message =
      `ColabLink: ${status.host}:${status.port} has not answered ${tries} tries in a row. ` +
      "The runtime may have been restarted: a restarted Colab runtime is a new machine with new connection info.";
    const choice = await vscode.window.showWarningMessage(message, RECONNECT_NOW, PASTE_NEW_INFO);
    try {
      if (choice === RECONNECT_NOW) {
        await reconnectNow(this.helper, this.profiles, status.profile);
      } else if (choice === PASTE_NEW_INFO) {
        await pasteNewConnectionInfo(this.helper, this.profiles, status.profile);
      }
    } catch (error) {
      await showError(errorMessage(error));
    }
  }

  dispose(): void {
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
  }
}
