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
