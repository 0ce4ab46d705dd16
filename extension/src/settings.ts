// The colablink.* settings, and the object the helper receives in initializationOptions and
// workspace/didChangeConfiguration (it reads its own keys and ignores the rest).
import * as vscode from "vscode";
import type { HelperSettings, LogLevel } from "./protocol";

export interface ExtensionSettings extends HelperSettings {
  remotePython: string;
  sync: { exclude: string[]; debounceMs: number };
  defaultProfile: string | null;
  sshConfigFile: string | null;
}

export function extensionSettings(): ExtensionSettings {
  const config = vscode.workspace.getConfiguration("colablink");
  return {
    logLevel: config.get<LogLevel>("logLevel") ?? "info",
    codeLens: config.get<boolean>("codeLens") ?? true,
    remotePython: config.get<string>("remotePython") || "python3",
    sync: {
      exclude: config.get<string[]>("sync.exclude") ?? [],
      debounceMs: config.get<number>("sync.debounceMs") ?? 200,
    },
    defaultProfile: config.get<string>("defaultProfile") || null,
    sshConfigFile: sshConfigFile(),
  };
}

/** colablink.sshConfigFile, else the file Remote-SSH reads (remote.SSH.configFile), else the default. */
export function sshConfigFile(): string | null {
  const own = vscode.workspace.getConfiguration("colablink").get<string>("sshConfigFile");
  if (own) {
    return own;
  }
  return vscode.workspace.getConfiguration("remote.SSH").get<string>("configFile") || null;
}

export function remotePython(): string {
  return extensionSettings().remotePython;
}

export function defaultProfile(): string | undefined {
  return extensionSettings().defaultProfile ?? undefined;
}

/** What the Colab option passes on: the client's path, and the login behind the channel. */
export function colabSettings(): { colabCli?: string; username?: string; remoteRoot?: string } {
  const config = vscode.workspace.getConfiguration("colablink.colab");
  const cli = config.get<string>("cliPath");
  const username = config.get<string>("username");
  const remoteRoot = config.get<string>("remoteRoot");
  return { ...(cli ? { colabCli: cli } : {}), ...(username ? { username } : {}), ...(remoteRoot ? { remoteRoot } : {}) };
}

/** colablink.ports.offer: whether a port the runtime starts listening on is offered for forwarding. */
export function offerPorts(): boolean {
  return vscode.workspace.getConfiguration("colablink").get<boolean>("ports.offer") ?? true;
}
