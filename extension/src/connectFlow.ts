// "ColabLink: Connect": paste connection info, or take a Colab runtime of your Google account (one of
// your sessions, or a new one with an accelerator). The paste is checked in the input box itself
// (the helper parses it without connecting), the folders are defaults taken with one Enter, and the
// connect shows its steps in a cancellable notification naming the host or the Colab runtime. A
// failure offers Try Again beside Show Logs.
import { randomUUID } from "node:crypto";
import * as path from "node:path";
import * as vscode from "vscode";
import { workspaceRootPath } from "./codeLensRunner";
import { colabChoices, colabProgressTitle, connectColabParams } from "./colabModel";
import type { HelperClient } from "./helperClient";
import { errorMessage, log, showError } from "./logging";
import type { ProfileStore } from "./profiles";
import {
  Method,
  type CheckConnectionInfoResult,
  type ColabSessionsResult,
  type ConnectColabParams,
  type ConnectParams,
  type ProfileStatus,
} from "./protocol";
import { colabSettings } from "./settings";

/** What Connect asks for, and the title of its progress notification. */
interface ConnectPlan {
  method?: typeof Method.CONNECT | typeof Method.CONNECT_COLAB;
  params: ConnectParams | ConnectColabParams;
  where: string;
  title?: string;
}

export function defaultFolders(workspaceRoot: string): { remoteDir: string; localDir: string } {
  return { remoteDir: `${path.basename(workspaceRoot)}_outputs`, localDir: "colab_outputs" };
}

export async function connect(helper: HelperClient, profiles: ProfileStore): Promise<void> {
  const plan = await askConnectPlan(helper, profiles.all(), workspaceRootPath());
  if (plan) {
    await runConnect(helper, profiles, plan);
  }
}

/** Drops the profile's connection and dials it again now, instead of waiting for the next try. */
export async function reconnectNow(helper: HelperClient, profiles: ProfileStore, profile: string): Promise<void> {
  const status = profiles.get(profile);
  const where = status ? `${status.host}:${status.port}` : profile;
  await runConnect(helper, profiles, { params: { workspaceRoot: workspaceRootPath(), profile }, where });
}

/** Asks only for the connection info (the folders stay as they are) and connects. */
export async function pasteNewConnectionInfo(helper: HelperClient, profiles: ProfileStore, profile: string): Promise<void> {
  const checked = await askConnectionInfo(helper);
  if (checked) {
    const params: ConnectParams = { workspaceRoot: workspaceRootPath(), profile, connectionInfo: checked.text };
    await runConnect(helper, profiles, { params, where: checked.where });
  }
}

async function runConnect(helper: HelperClient, profiles: ProfileStore, plan: ConnectPlan): Promise<void> {
  const workDoneToken = `colablink-connect-${randomUUID()}`;
  profiles.setConnecting(true);
  try {
    const status = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: plan.title ?? `ColabLink: connecting to ${plan.where}`,
        cancellable: true,
      },
      async (progress, cancel) => {
        const steps = await helper.onProgress(workDoneToken, (message) => progress.report({ message }));
        try {
          const method = plan.method ?? Method.CONNECT;
          return await helper.request<ProfileStatus>(method, { ...plan.params, workDoneToken }, cancel);
        } catch (error) {
          if (cancel.isCancellationRequested) {
            log().info(`Connect to ${plan.where} cancelled.`);
            return undefined;
          }
          throw error;
        } finally {
          steps.dispose();
        }
      },
    );
    if (status) {
      profiles.put(status);
    }
  } catch (error) {
    void showError(errorMessage(error), () => runConnect(helper, profiles, plan));
  } finally {
    profiles.setConnecting(false);
  }
}

async function askConnectPlan(
  helper: HelperClient,
  known: readonly ProfileStatus[],
  workspaceRoot: string,
): Promise<ConnectPlan | undefined> {
  const paste = { label: "$(clippy) Paste connection info…", description: "JSON or token the runtime printed" };
  const colab = { label: "$(cloud) Colab runtime (Google account)…", description: "one of your sessions, or a new one" };
  const picked = await vscode.window.showQuickPick(
    [paste, colab, ...known.map((s) => ({ label: s.profile, description: `${s.host}:${s.port} · ${s.state}` }))],
    { title: "ColabLink: Connect", placeHolder: "Paste connection info, take a Colab runtime, or pick a profile" },
  );
  if (!picked) {
    return undefined;
  }
  if (picked === colab) {
    return askColabPlan(helper, workspaceRoot);
  }
  if (picked !== paste) {
    const status = known.find((s) => s.profile === picked.label);
    return { params: { workspaceRoot, profile: picked.label }, where: status ? `${status.host}:${status.port}` : picked.label };
  }
  const checked = await askConnectionInfo(helper);
  if (!checked) {
    return undefined;
  }
  const folders = await askFolders(workspaceRoot);
  return folders && { params: { workspaceRoot, connectionInfo: checked.text, ...folders }, where: checked.where };
}

/** One of the Google account's Colab sessions, or a new one with an accelerator. */
async function askColabPlan(helper: HelperClient, workspaceRoot: string): Promise<ConnectPlan | undefined> {
  const settings = colabSettings();
  const listed = await helper.request<ColabSessionsResult>(Method.COLAB_SESSIONS, settings.colabCli ? { colabCli: settings.colabCli } : {});
  const choice = await vscode.window.showQuickPick(colabChoices(listed.sessions), {
    title: "ColabLink: Colab runtime",
    placeHolder: listed.sessions.length > 0 ? "Pick one of your sessions, or start a new runtime" : "Start a new runtime",
    ignoreFocusOut: true,
  });
  if (!choice) {
    return undefined;
  }
  const folders = await askFolders(workspaceRoot);
  if (!folders) {
    return undefined;
  }
  const params = connectColabParams(choice, workspaceRoot, { ...folders, ...settings });
  return { method: Method.CONNECT_COLAB, params, where: choice.session ?? "a new Colab runtime", title: colabProgressTitle(choice) };
}

/** The pasted info, refused in the box while the helper cannot parse it. */
async function askConnectionInfo(helper: HelperClient): Promise<{ text: string; where: string } | undefined> {
  const checked = new Map<string, CheckConnectionInfoResult>();
  const text = await vscode.window.showInputBox({
    title: "ColabLink: Connect",
    prompt: "Paste the connection JSON or clk1. token that the runtime printed (colablink runtime, or the Colab notebook)",
    placeHolder: '{"host": …} or clk1.…',
    ignoreFocusOut: true,
    validateInput: async (value) => {
      const trimmed = value.trim();
      if (!trimmed) {
        return "Paste the connection info the runtime printed.";
      }
      try {
        checked.set(trimmed, await helper.request<CheckConnectionInfoResult>(Method.CHECK_CONNECTION_INFO, { connectionInfo: trimmed }));
        return undefined;
      } catch (error) {
        return errorMessage(error);
      }
    },
  });
  const trimmed = text?.trim();
  const info = trimmed ? checked.get(trimmed) : undefined;
  return trimmed && info ? { text: trimmed, where: `${info.host}:${info.port}` } : undefined;
}

async function askFolders(workspaceRoot: string): Promise<{ remoteDir: string; localDir: string } | undefined> {
  const defaults = defaultFolders(workspaceRoot);
  const accept = {
    label: "$(check) Connect",
    description: `outputs: runtime ${defaults.remoteDir}/ → local ${defaults.localDir}/`,
  };
  const change = { label: "$(folder) Choose the folders…" };
  const picked = await vscode.window.showQuickPick([accept, change], {
    title: "ColabLink: Connect",
    placeHolder: "Press Enter to connect with the default output folders",
    ignoreFocusOut: true,
  });
  if (picked !== change) {
    return picked && defaults;
  }
  const remoteDir = await vscode.window.showInputBox({
    title: "ColabLink: remote directory",
    prompt: "Connection directory under the runtime's root; what your code writes there comes back",
    value: defaults.remoteDir,
    ignoreFocusOut: true,
  });
  if (remoteDir === undefined) {
    return undefined;
  }
  const localDir = await vscode.window.showInputBox({
    title: "ColabLink: local directory",
    prompt: "Local folder, relative to the workspace, that receives the connection directory's files",
    value: defaults.localDir,
    ignoreFocusOut: true,
  });
  return localDir === undefined ? undefined : { remoteDir: remoteDir.trim(), localDir: localDir.trim() };
}
