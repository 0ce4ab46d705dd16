// One LogOutputChannel "ColabLink" for everything, and errors that point at it.
import * as vscode from "vscode";

let channel: vscode.LogOutputChannel | undefined;

export function log(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel("ColabLink", { log: true });
  return channel;
}

export function showLogs(): void {
  log().show(true);
}

/** One sentence for the user, with a button to the full story and, when given, one to retry. */
export async function showError(message: string, tryAgain?: () => unknown): Promise<void> {
  log().error(message);
  const buttons = tryAgain ? ["Try Again", "Show Logs"] : ["Show Logs"];
  const choice = await vscode.window.showErrorMessage(message, ...buttons);
  if (choice === "Show Logs") {
    showLogs();
  } else if (choice === "Try Again" && tryAgain) {
    await tryAgain();
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
