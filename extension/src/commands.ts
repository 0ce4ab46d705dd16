// Every "ColabLink: …" command; each turns a failure into one sentence with "Show Logs".
import * as vscode from "vscode";
import type { Runner } from "./codeLensRunner";
import { connect, pasteNewConnectionInfo, reconnectNow } from "./connectFlow";
import type { HeldProfiles } from "./heldProfiles";
import type { Forwards } from "./forwards";
import type { HelperClient } from "./helperClient";
import type { JupyterKernels } from "./jupyterKernels";
import { errorMessage, showError, showLogs } from "./logging";
import type { EntryNode } from "./outputsModel";
import type { OutputsTree } from "./outputsTree";
import { forwardAndSay } from "./portOffers";
import type { PortRow } from "./portsModel";
import type { ProfileStore } from "./profiles";
import {
  LensCommand,
  Method,
  type DownloadParams,
  type DownloadResult,
  type SshHostResult,
  type StopRuntimeResult,
  type SyncNowResult,
} from "./protocol";
import { openInRemoteSsh } from "./remoteSsh";
import { openShell } from "./shellTerminal";
import { STATUS_BAR_COMMAND } from "./statusBar";

interface Deps {
  helper: HelperClient;
  profiles: ProfileStore;
  runner: Runner;
  outputs: OutputsTree;
  held: HeldProfiles;
  forwards: Forwards;
  jupyter: JupyterKernels;
  extensionUri: vscode.Uri;
}

type Handler = (...args: never[]) => unknown;

export function registerCommands(deps: Deps): vscode.Disposable[] {
  const { helper, profiles, runner, outputs } = deps;
  const table: Record<string, Handler> = {
    "colablink.connect": () => connect(helper, profiles),
    "colablink.disconnect": () => disconnect(helper, profiles, deps.held),
    // The "restarted?" notification's links name their profile.
    "colablink.reconnectNow": (profile?: string) => reconnectNow(helper, profiles, profile ?? runner.profile()),
    "colablink.pasteConnectionInfo": (profile?: string) =>
      pasteNewConnectionInfo(helper, profiles, profile ?? runner.profile()),
    [LensCommand.RUN_FILE]: (relativePath?: string) => runner.runFile(relativePath),
    [LensCommand.RUN_CELL]: (relativePath: string, startLine: number, endLine: number) =>
      runner.runCell(relativePath, startLine, endLine),
    "colablink.restartCellKernel": (relativePath?: string) => runner.restartCellKernel(relativePath),
    "colablink.useJupyterKernel": () => deps.jupyter.useAsKernel(),
    "colablink.runCommand": () => runCommand(runner),
    "colablink.openShell": () => openShell(helper, runner.profile()),
    "colablink.openInRemoteSsh": () => remoteSsh(helper, runner),
    "colablink.syncNow": () => syncNow(helper, runner),
    "colablink.forwardPort": () => forwardPort(deps.forwards, profiles, runner),
    "colablink.ports.forward": (row: PortRow) => forwardAndSay(deps.forwards, row.profile, row.port.port, row.port.host),
    "colablink.ports.stopForward": (row: PortRow) => (row.forward ? deps.forwards.stop(row.forward) : undefined),
    "colablink.stopRuntime": () => stopRuntime(helper, profiles, deps.held),
    "colablink.showLogs": () => showLogs(),
    // The README the VSIX carries says where connection info comes from.
    "colablink.runtimeHelp": () =>
      vscode.commands.executeCommand("markdown.showPreview", vscode.Uri.joinPath(deps.extensionUri, "README.md")),
    "colablink.restartHelper": () => helper.restart(),
    "colablink.outputs.refresh": () => outputs.refresh(),
    "colablink.outputs.reveal": (node: EntryNode) =>
      vscode.commands.executeCommand("revealInExplorer", vscode.Uri.file(node.localPath)),
    "colablink.outputs.downloadAgain": (node: EntryNode) => downloadAgain(helper, node),
    "colablink.outputs.copyRemotePath": (node: EntryNode) => vscode.env.clipboard.writeText(node.remotePath),
    [STATUS_BAR_COMMAND]: () => statusMenu(helper, profiles),
  };
  return Object.entries(table).map(([id, handler]) =>
    vscode.commands.registerCommand(id, async (...args: never[]) => {
      try {
        return await handler(...args);
      } catch (error) {
        await showError(errorMessage(error));
        return undefined;
      }
    }),
  );
}

async function chooseProfile(profiles: ProfileStore, placeHolder: string): Promise<string | undefined> {
  const names = profiles.all().map((s) => s.profile);
  if (names.length === 0) {
    throw new Error("There is no ColabLink connection to act on.");
  }
  if (names.length === 1) {
    return names[0];
  }
  return vscode.window.showQuickPick(names, { placeHolder });
}

async function disconnect(helper: HelperClient, profiles: ProfileStore, held: HeldProfiles): Promise<void> {
  const profile = await chooseProfile(profiles, "Disconnect which profile?");
  if (!profile) {
    return;
  }
  await held.forget(profile);
  await helper.request(Method.DISCONNECT, { profile });
  await profiles.refresh();
}

async function runCommand(runner: Runner): Promise<void> {
  const commandLine = await vscode.window.showInputBox({
    title: "ColabLink: Run Command on Colab",
    prompt: "Command line to run on the runtime, in the source root",
    placeHolder: "nvidia-smi",
  });
  if (commandLine?.trim()) {
    runner.runCommandLine(commandLine.trim());
  }
}

async function remoteSsh(helper: HelperClient, runner: Runner): Promise<void> {
  const host = await helper.request<SshHostResult>(Method.SSH_HOST, { profile: runner.profile() });
  await openInRemoteSsh(host.alias, host.remoteRoot);
}

async function syncNow(helper: HelperClient, runner: Runner): Promise<void> {
  const result = await helper.request<SyncNowResult>(Method.SYNC_NOW, { profile: runner.profile() });
  vscode.window.setStatusBarMessage(`ColabLink: synced, ${result.pushed} up, ${result.pulled} down`, 5000);
}

async function forwardPort(forwards: Forwards, profiles: ProfileStore, runner: Runner): Promise<void> {
  const answer = await vscode.window.showInputBox({
    title: "ColabLink: Forward Port",
    prompt: "Port on the runtime to reach from this machine",
    placeHolder: "8888",
    validateInput: (text) => (/^\d{1,5}$/.test(text.trim()) && Number(text) < 65536 ? undefined : "A port number, 1–65535."),
  });
  if (!answer) {
    return;
  }
  const profile = runner.profile();
  const remotePort = Number(answer.trim());
  // A server listening on one address only (not loopback) is reached where it listens.
  const listening = profiles.get(profile)?.ports.find((p) => p.port === remotePort);
  await forwardAndSay(forwards, profile, remotePort, listening?.host);
}

async function downloadAgain(helper: HelperClient, node: EntryNode): Promise<void> {
  const params: DownloadParams = { profile: node.profile, remotePath: node.remotePath, localPath: node.localPath };
  const result = await helper.request<DownloadResult>(Method.DOWNLOAD, params);
  vscode.window.setStatusBarMessage(`ColabLink: downloaded ${result.bytes} bytes to ${result.localPath}`, 5000);
}

async function statusMenu(helper: HelperClient, profiles: ProfileStore): Promise<void> {
  const entries = menuEntries(helper, profiles);
  const picked = await vscode.window.showQuickPick(
    entries.map(([command, label]) => ({ label, command })),
    { title: "ColabLink" },
  );
  if (picked) {
    await vscode.commands.executeCommand(picked.command);
  }
}

/** The commands that make sense right now, for the status bar's menu. */
function menuEntries(helper: HelperClient, profiles: ProfileStore): [string, string][] {
  if (helper.state === "failed") {
    return [
      ["colablink.restartHelper", "Restart Helper"],
      ["colablink.showLogs", "Show Logs"],
    ];
  }
  if (!profiles.all().some((s) => s.state !== "disconnected")) {
    return [
      ["colablink.connect", "Connect"],
      ["colablink.showLogs", "Show Logs"],
    ];
  }
  const down = profiles.all().some((s) => s.state === "reconnecting" || s.state === "error");
  const recovery: [string, string][] = down
    ? [
        ["colablink.reconnectNow", "Reconnect Now"],
        ["colablink.pasteConnectionInfo", "Paste New Connection Info…"],
      ]
    : [];
  const colab: [string, string][] = profiles.all().some((s) => s.colab && s.state !== "disconnected")
    ? [["colablink.stopRuntime", "Stop Runtime"]]
    : [];
  return [
    ...recovery,
    ["colablink.runFile", "Run Current File on Colab"],
    ["colablink.runCommand", "Run Command on Colab…"],
    ["colablink.openShell", "Open Shell on Colab"],
    ["colablink.syncNow", "Sync Now"],
    ["colablink.forwardPort", "Forward Port…"],
    ["colablink.openInRemoteSsh", "Open in Remote-SSH"],
    ["colablink.disconnect", "Disconnect"],
    ...colab,
    ["colablink.showLogs", "Show Logs"],
  ];
}

/** Pulls what the runtime wrote, then `colab stop`: an idle GPU costs compute units. */
async function stopRuntime(helper: HelperClient, profiles: ProfileStore, held: HeldProfiles): Promise<void> {
  const names = profiles.all().filter((s) => s.colab && s.state !== "disconnected").map((s) => s.profile);
  if (names.length === 0) {
    throw new Error("No connected profile runs on a Colab session.");
  }
  const profile = names.length === 1 ? names[0] : await vscode.window.showQuickPick(names, { placeHolder: "Stop which runtime?" });
  const session = profile && profiles.get(profile)?.colab?.session;
  if (!profile || !session) {
    return;
  }
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `ColabLink: pulling outputs, then stopping Colab session ${session}` },
    () => helper.request<StopRuntimeResult>(Method.STOP_RUNTIME, { profile }),
  );
  // A stopped runtime is gone: a reload must not dial it again.
  await held.forget(profile);
  await profiles.refresh();
  void vscode.window.showInformationMessage(
    `ColabLink: stopped Colab session ${result.session}; ${result.pulled} file(s) pulled first.`,
  );
}
