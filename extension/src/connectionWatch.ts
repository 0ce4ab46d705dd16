// Writes each profile's connection story to the ColabLink log (its lines carry the time), and asks
// once per outage whether the runtime was restarted, with the two ways out. The question is a
// progress-style notification, so it goes away by itself when the outage ends.
import * as vscode from "vscode";
import { ConnectionStory, outageOver, restartHint } from "./connectionStory";
import type { HelperClient } from "./helperClient";
import { log } from "./logging";
import type { ProfileStatus } from "./protocol";

export class ConnectionWatch implements vscode.Disposable {
  private readonly stories = new Map<string, ConnectionStory>();
  /** Resolves the open "restarted?" notification of each profile. */
  private readonly hints = new Map<string, () => void>();
  private readonly subscriptions: vscode.Disposable[];

  constructor(helper: HelperClient) {
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
      this.askAboutRestart(status, story.tries);
    } else if (outageOver(status)) {
      this.hints.get(status.profile)?.();
    }
  }

  private askAboutRestart(status: ProfileStatus, tries: number): void {
    const profile = status.profile;
    if (this.hints.has(profile)) {
      return;
    }
    const hint = restartHint(status, tries);
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: hint.title, cancellable: true },
      (progress, dismissed) => {
        progress.report({ message: hint.actions });
        return new Promise<void>((resolve) => {
          this.hints.set(profile, resolve);
          dismissed.onCancellationRequested(() => resolve());
        }).finally(() => this.hints.delete(profile));
      },
    );
  }

  dispose(): void {
    for (const resolve of this.hints.values()) {
      resolve();
    }
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
  }
}
