// Wires the ColabLink features together; each lives in its own module.
import * as vscode from "vscode";
import { Runner } from "./codeLensRunner";
import { registerCommands } from "./commands";
import { ConnectionWatch } from "./connectionWatch";
import { HeldProfiles } from "./heldProfiles";
import { HelperClient } from "./helperClient";
import { JupyterKernels } from "./jupyterKernels";
import { errorMessage, log, showError } from "./logging";
import { Forwards } from "./forwards";
import { OUTPUTS_VIEW, OutputsTree } from "./outputsTree";
import { PortOffers } from "./portOffers";
import { PORTS_VIEW, PortsTree } from "./portsTree";
import { ProfileStore } from "./profiles";
import { registerRunsView } from "./runsView";
import { StatusBar } from "./statusBar";
import { RemotePathLinks } from "./terminalLinks";

let helper: HelperClient | undefined;

export function activate(context: vscode.ExtensionContext): void {
  helper = new HelperClient(context);
  const profiles = new ProfileStore(helper);
  const outputs = new OutputsTree(helper, profiles);
  const runner = new Runner(helper, profiles);
  const held = new HeldProfiles(context.workspaceState, helper, profiles);
  const forwards = new Forwards(helper, profiles);
  const jupyter = new JupyterKernels(helper, profiles);
  context.subscriptions.push(
    log(),
    helper,
    profiles,
    outputs,
    runner,
    held,
    forwards,
    jupyter,
    new PortOffers(profiles, forwards),
    new StatusBar(helper, profiles),
    new ConnectionWatch(helper),
    vscode.window.registerTreeDataProvider(OUTPUTS_VIEW, outputs),
    vscode.window.registerTreeDataProvider(PORTS_VIEW, new PortsTree(profiles, forwards)),
    ...registerRunsView(helper, profiles),
    vscode.window.registerTerminalLinkProvider(new RemotePathLinks(profiles)),
    ...registerCommands({ helper, profiles, runner, outputs, held, forwards, jupyter, extensionUri: context.extensionUri }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("colablink.python")) {
        void helper?.restart().catch((error: unknown) => showError(errorMessage(error)));
      } else if (event.affectsConfiguration("colablink") || event.affectsConfiguration("remote.SSH.configFile")) {
        void helper?.sendSettings();
      }
    }),
  );
  helper.start().catch((error: unknown) => showError(errorMessage(error)));
}

export async function deactivate(): Promise<void> {
  await helper?.stop();
}
