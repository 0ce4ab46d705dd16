// Runs a file, a "# %%" cell or a command line on the runtime, after flushing pending pushes so a
// run never starts on stale files. The helper supplies the lenses; these are the commands they call.
import * as path from "node:path";
import * as vscode from "vscode";
import { RunTerminals, type ExecTerminal } from "./execTerminal";
import type { HelperClient } from "./helperClient";
import type { ProfileStore } from "./profiles";
import { Method, type FlushParams } from "./protocol";
import { defaultProfile, remotePython } from "./settings";
import { runRefusal } from "./runTarget";
import { pickProfile } from "./statusText";

export class NoProfileError extends Error {
  constructor() {
    super("No ColabLink connection yet; run “ColabLink: Connect” first.");
  }
}

export class Runner implements vscode.Disposable {
  private readonly terminals: RunTerminals;

  constructor(
    private readonly helper: HelperClient,
    private readonly profiles: ProfileStore,
  ) {
    this.terminals = new RunTerminals(helper);
  }

  dispose(): void {
    this.terminals.dispose();
  }

  profile(): string {
    const status = pickProfile(this.profiles.all(), defaultProfile());
    if (!status) {
      throw new NoProfileError();
    }
    return status.profile;
  }

  /** Runs `<remotePython> <relative path>` in the source root. */
  async runFile(relativePath?: string): Promise<ExecTerminal> {
    const target = relativePath ?? activeFileRelativePath();
    const profile = this.profile();
    await this.saveAndFlush(profile, target);
    const argv = [remotePython(), target];
    return this.terminals.run(target, `Colab: ${path.posix.basename(target)}`, { profile, argv }, `$ ${argv.join(" ")}`);
  }

  /** Runs lines startLine..endLine (0-based, inclusive) of the file as one program. */
  async runCell(relativePath: string, startLine: number, endLine: number): Promise<ExecTerminal> {
    const profile = this.profile();
    const document = await vscode.workspace.openTextDocument(workspaceUri(relativePath));
    await this.saveAndFlush(profile, relativePath);
    const last = Math.min(endLine, document.lineCount - 1);
    const code = document.getText(new vscode.Range(startLine, 0, last, document.lineAt(last).text.length));
    const argv = [remotePython(), "-c", code];
    const name = `Colab: ${path.posix.basename(relativePath)}`;
    return this.terminals.run(relativePath, name, { profile, argv }, `$ ${remotePython()} ${relativePath} (cell at line ${startLine + 1})`);
  }

  runCommandLine(commandLine: string): ExecTerminal {
    const profile = this.profile();
    return this.terminals.run("command", "Colab: command", { profile, commandLine }, `$ ${commandLine}`);
  }

  private async saveAndFlush(profile: string, relativePath: string): Promise<void> {
    const uri = workspaceUri(relativePath);
    const open = vscode.workspace.textDocuments.find((doc) => doc.uri.fsPath === uri.fsPath);
    if (open?.isDirty) {
      await open.save();
    }
    const params: FlushParams = { profile, paths: [relativePath] };
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: "ColabLink: syncing before the run" },
      () => this.helper.request(Method.FLUSH, params),
    );
  }
}

function workspaceRoot(): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) {
    throw new Error("Open a folder first: ColabLink syncs a workspace folder.");
  }
  return folder.uri;
}

function workspaceUri(relativePath: string): vscode.Uri {
  return vscode.Uri.joinPath(workspaceRoot(), ...relativePath.split("/"));
}

function activeFileRelativePath(): string {
  const notebook = vscode.window.activeNotebookEditor?.notebook.uri;
  const document = vscode.window.activeTextEditor?.document;
  const facts = document && { scheme: document.uri.scheme, languageId: document.languageId, fileName: document.fileName };
  const refusal = runRefusal(facts, notebook && notebook.path, remotePython());
  if (refusal || !document) {
    throw new Error(refusal);
  }
  return vscode.workspace.asRelativePath(document.uri, false).split(path.sep).join("/");
}

export function workspaceRootPath(): string {
  return workspaceRoot().fsPath;
}
