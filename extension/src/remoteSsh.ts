// "Open in Remote-SSH": a new window on the runtime through the Host alias ColabLink wrote.
import * as fs from "node:fs";
import * as vscode from "vscode";
import { log } from "./logging";

export const REMOTE_SSH_EXTENSION_ID = "ms-vscode-remote.remote-ssh";

/**
 * Test hook: when COLABLINK_TEST_OPEN_FOLDER_LOG names a file that exists, the command and URI that
 * would open the remote window are appended to it as one JSON line instead of being executed (a
 * browser-hosted VS Code cannot resolve ssh-remote authorities). Without the file, the normal path
 * runs, so a test can reach the "Remote-SSH missing" branch in the same window.
 */
export const OPEN_FOLDER_LOG_ENV = "COLABLINK_TEST_OPEN_FOLDER_LOG";

export function remoteSshUri(alias: string, remoteRoot: string): string {
  const root = remoteRoot.startsWith("/") ? remoteRoot : `/${remoteRoot}`;
  return `vscode-remote://ssh-remote+${alias}${root}`;
}

export async function openInRemoteSsh(alias: string, remoteRoot: string): Promise<void> {
  const uri = remoteSshUri(alias, remoteRoot);
  const record = process.env[OPEN_FOLDER_LOG_ENV];
  if (record && fs.existsSync(record)) {
    fs.appendFileSync(record, `${JSON.stringify({ command: "vscode.openFolder", uri, forceNewWindow: true })}\n`);
    log().info(`Recorded vscode.openFolder ${uri} for the test hook.`);
    return;
  }
  if (!vscode.extensions.getExtension(REMOTE_SSH_EXTENSION_ID)) {
    await offerRemoteSshInstall();
    return;
  }
  log().info(`Opening ${uri}`);
  await vscode.commands.executeCommand("vscode.openFolder", vscode.Uri.parse(uri), { forceNewWindow: true });
}

async function offerRemoteSshInstall(): Promise<void> {
  log().info("Remote-SSH is not installed; offering to install it.");
  const choice = await vscode.window.showInformationMessage(
    "Opening the runtime in a VS Code window needs the Remote - SSH extension.",
    "Install Remote - SSH",
  );
  if (choice === "Install Remote - SSH") {
    await vscode.commands.executeCommand("workbench.extensions.search", `@id:${REMOTE_SSH_EXTENSION_ID}`);
    try {
      await vscode.commands.executeCommand("workbench.extensions.installExtension", REMOTE_SSH_EXTENSION_ID);
    } catch (error) {
      log().warn(`Installing Remote - SSH: ${String(error)}`);
    }
  }
}
