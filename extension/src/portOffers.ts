// Offers each port the runtime starts listening on for forwarding, once, as Remote-SSH does.
import * as vscode from "vscode";
import type { Forwards } from "./forwards";
import { errorMessage, showError } from "./logging";
import { forwardedText, newOffers, offerText } from "./portsModel";
import type { ProfileStore } from "./profiles";
import type { RuntimePort } from "./protocol";
import { offerPorts } from "./settings";

export class PortOffers implements vscode.Disposable {
  private readonly offered = new Set<string>();
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly profiles: ProfileStore,
    private readonly forwards: Forwards,
  ) {
    this.subscription = profiles.onDidChange.event(() => {
      if (!offerPorts()) {
        return;
      }
      for (const offer of newOffers(this.profiles.all(), this.forwards.all(), this.offered)) {
        void this.offer(offer.profile, offer.port);
      }
    });
  }

  private async offer(profile: string, port: RuntimePort): Promise<void> {
    const picked = await vscode.window.showInformationMessage(offerText(port), "Forward");
    if (picked) {
      try {
        await forwardAndSay(this.forwards, profile, port.port, port.host);
      } catch (error) {
        await showError(errorMessage(error));
      }
    }
  }

  dispose(): void {
    this.subscription.dispose();
  }
}

/** Forward, then say where it landed, with a way to open it. */
export async function forwardAndSay(
  forwards: Forwards,
  profile: string,
  remotePort: number,
  remoteHost?: string,
): Promise<void> {
  const entry = await forwards.open(profile, remotePort, remoteHost);
  const open = await vscode.window.showInformationMessage(forwardedText(remotePort, entry.localPort), "Open in Browser");
  if (open) {
    await vscode.env.openExternal(vscode.Uri.parse(`http://127.0.0.1:${entry.localPort}/`));
  }
}
