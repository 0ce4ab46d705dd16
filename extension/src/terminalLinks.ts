// Paths under a runtime's source root in ColabLink terminals (run output, shells) become links to
// the local workspace file at that line, not to the runtime's copy.
import * as vscode from "vscode";
import type { ProfileStore } from "./profiles";
import { findRemoteLinks, type PathMapping } from "./remoteLinks";

interface LocalFileLink extends vscode.TerminalLink {
  localPath: string;
  line?: number;
  column?: number;
}

/** Run terminals are named "Colab: …", shells "Colab shell (…)". */
function isColabTerminal(terminal: vscode.Terminal): boolean {
  return terminal.name.startsWith("Colab");
}

export class RemotePathLinks implements vscode.TerminalLinkProvider<LocalFileLink> {
  constructor(private readonly profiles: ProfileStore) {}

  private mappings(): PathMapping[] {
    const workspace = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (!workspace) {
      return [];
    }
    return this.profiles.all().flatMap((s) => [
      { remote: s.remoteRoot, local: workspace },
      { remote: s.remoteDir, local: s.localDir },
    ]);
  }

  provideTerminalLinks(context: vscode.TerminalLinkContext): LocalFileLink[] {
    if (!isColabTerminal(context.terminal)) {
      return [];
    }
    return findRemoteLinks(context.line, this.mappings()).map((link) => ({
      ...link,
      tooltip: `Open ${vscode.workspace.asRelativePath(link.localPath)}${link.line ? ` at line ${link.line}` : ""}`,
    }));
  }

  async handleTerminalLink(link: LocalFileLink): Promise<void> {
    const uri = vscode.Uri.file(link.localPath);
    try {
      await vscode.workspace.fs.stat(uri);
    } catch {
      void vscode.window.showWarningMessage(`${vscode.workspace.asRelativePath(uri)} is not in the local workspace.`);
      return;
    }
    const line = Math.max(0, (link.line ?? 1) - 1);
    const column = Math.max(0, (link.column ?? 1) - 1);
    await vscode.window.showTextDocument(uri, { selection: new vscode.Range(line, column, line, column) });
  }
}
