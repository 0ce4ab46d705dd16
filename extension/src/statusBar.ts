// The status bar item: renders statusView() for the profile it speaks for.
import * as vscode from "vscode";
import { ColabUsage } from "./colabUsage";
import type { HelperClient } from "./helperClient";
import type { ProfileStore } from "./profiles";
import { defaultProfile } from "./settings";
import { countedDown, pickProfile, statusView } from "./statusText";

export const STATUS_BAR_COMMAND = "colablink.statusMenu";

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("colablink.status", vscode.StatusBarAlignment.Left, 50);
  private readonly subscriptions: vscode.Disposable[];
  private readonly usage: ColabUsage;
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly helper: HelperClient,
    private readonly profiles: ProfileStore,
  ) {
    this.item.name = "ColabLink";
    this.item.command = STATUS_BAR_COMMAND;
    this.usage = new ColabUsage(helper, profiles);
    this.subscriptions = [
      profiles.onDidChange.event(() => this.render()),
      this.usage.onDidChange.event(() => this.render()),
      this.usage,
    ];
    this.render();
    this.item.show();
  }

  render(): void {
    const status = pickProfile(this.profiles.all(), defaultProfile());
    const view = statusView({
      helper: this.helper.state,
      helperError: this.helper.error,
      connecting: this.profiles.connecting,
      status: status && countedDown(status, this.profiles.ageMs(status.profile)),
      usage: status && this.usage.get(status.profile),
    });
    this.scheduleTick(status?.retryInSeconds != null);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor =
      view.tone === "error"
        ? new vscode.ThemeColor("statusBarItem.errorBackground")
        : view.tone === "warning"
          ? new vscode.ThemeColor("statusBarItem.warningBackground")
          : undefined;
  }

  /** While a retry is pending the countdown moves every second; otherwise nothing runs. */
  private scheduleTick(counting: boolean): void {
    if (counting && !this.ticker) {
      this.ticker = setInterval(() => this.render(), 1000);
    } else if (!counting && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  dispose(): void {
    if (this.ticker) {
      clearInterval(this.ticker);
    }
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
    this.item.dispose();
  }
}
