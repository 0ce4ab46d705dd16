import * as vscode from "vscode";

export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand("colablink.connect", () => {
      void vscode.window.showInformationMessage("ColabLink: Connect is not wired yet.");
    }),
  );
}

export function deactivate(): void {}
