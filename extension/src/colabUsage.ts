// Asks the helper for the account's compute units (`colab usage`) while a Colab profile is
// connected, once a minute; where the client cannot say, the status bar simply shows none.
import * as vscode from "vscode";
import { dueForUsage, USAGE_INTERVAL_MS } from "./colabModel";
import type { HelperClient } from "./helperClient";
import { errorMessage, log } from "./logging";
import type { ProfileStore } from "./profiles";
import { Method, type ColabUsageResult } from "./protocol";

export class ColabUsage implements vscode.Disposable {
  private readonly usage = new Map<string, ColabUsageResult>();
  private readonly askedAt = new Map<string, number>();
  private readonly subscription: vscode.Disposable;
  private readonly timer: NodeJS.Timeout;
  readonly onDidChange = new vscode.EventEmitter<void>();

  constructor(
    private readonly helper: HelperClient,
    private readonly profiles: ProfileStore,
  ) {
    this.subscription = profiles.onDidChange.event(() => this.poll());
    this.timer = setInterval(() => this.poll(), USAGE_INTERVAL_MS);
  }

  get(profile: string): ColabUsageResult | undefined {
    return this.usage.get(profile);
  }

  private poll(): void {
    for (const profile of dueForUsage(this.profiles.all(), this.askedAt, Date.now())) {
      this.askedAt.set(profile, Date.now());
      void this.ask(profile);
    }
  }

  private async ask(profile: string): Promise<void> {
    try {
      const answer = await this.helper.request<ColabUsageResult | null>(Method.COLAB_USAGE, { profile });
      if (answer) {
        this.usage.set(profile, answer);
      } else {
        this.usage.delete(profile);
      }
      this.onDidChange.fire();
    } catch (error) {
      log().debug(`Reading the compute units of ${profile}: ${errorMessage(error)}`);
    }
  }

  dispose(): void {
    clearInterval(this.timer);
    this.subscription.dispose();
    this.onDidChange.dispose();
  }
}
