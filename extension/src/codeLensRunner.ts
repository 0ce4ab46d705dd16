// Runs a file, a "# %%" cell or a command line on the runtime, after flushing pending pushes so a
// run never starts on stale files. The helper supplies the lenses; these are the commands they call.
import * as path from "node:path";
import * as vscode from "vscode";
import { RunTerminals, type BeforeRun, type ExecTerminal } from "./execTerminal";
import type { HelperClient } from "./helperClient";
import type { ProfileStore } from "./profiles";
import { Method, type CellRestartParams, type FlushParams } from "./protocol";
import { defaultProfile, remotePython } from "./settings";
import { runRefusal } from "./runTarget";
import { isLinkDown, pickProfile } from "./statusText";

/** How long a run waits for a link that is down before it gives up. */
const WAIT_FOR_LINK_MS = 5 * 60_000;

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
    await save(target);
    const argv = [remotePython(), target];
    const name = `Colab: ${path.posix.basename(target)}`;
    return this.terminals.run(target, name, { profile, argv }, `$ ${argv.join(" ")}`, this.flush(profile, target));
  }

  /**
   * Runs lines startLine..endLine (0-based, inclusive) of the file in the file's kernel on the
   * runtime: cells share their names, and a traceback names the file and its line.
   */
  async runCell(relativePath: string, startLine: number, endLine: number): Promise<ExecTerminal> {
    const profile = this.profile();
    const document = await vscode.workspace.openTextDocument(workspaceUri(relativePath));
    await save(relativePath);
    const last = Math.min(endLine, document.lineCount - 1);
    const code = document.getText(new vscode.Range(startLine, 0, last, document.lineAt(last).text.length));
    const name = `Colab: ${path.posix.basename(relativePath)}`;
    const banner = `${relativePath} (cell at line ${startLine + 1}, in the file's kernel)`;
    const cell = { path: relativePath, line: startLine + 1, code };
    return this.terminals.run(relativePath, name, { profile, cell }, banner, this.flush(profile, relativePath));
  }

  /** "Restart Cell Kernel": the next cell of the file starts with a fresh namespace. */
  async restartCellKernel(relativePath?: string): Promise<void> {
    const target = relativePath ?? activeFileRelativePath();
    const params: CellRestartParams = { profile: this.profile(), path: target };
    await this.helper.request(Method.CELL_RESTART, params);
    void vscode.window.showInformationMessage(`ColabLink: the kernel of ${path.posix.basename(target)} restarted.`);
  }

  runCommandLine(commandLine: string): ExecTerminal {
    const profile = this.profile();
    return this.terminals.run("command", "Colab: command", { profile, commandLine }, `$ ${commandLine}`);
  }

  /**
   * Waits, in the run's terminal, for a link that is down to come back, then until pending pushes
   * of the file landed: a run never starts on stale files.
   */
  private flush(profile: string, relativePath: string): BeforeRun {
    const params: FlushParams = { profile, paths: [relativePath] };
    return async (token) => {
      await this.linkUp(profile, token);
      await this.helper.request(Method.FLUSH, params, token);
    };
  }

  /** Resolves once `profile`'s link is up (at once unless it is down now); rejects after the limit. */
  private linkUp(profile: string, token: vscode.CancellationToken): Promise<void> {
    const up = (): boolean => !isLinkDown(this.profiles.get(profile));
    if (up() || token.isCancellationRequested) {
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        watch.dispose();
        cancelled.dispose();
        if (error) {
          reject(error);
        } else {
          resolve();
        }
      };
      const watch = this.profiles.onDidChange.event(() => up() && done());
      const cancelled = token.onCancellationRequested(() => done());
      const timer = setTimeout(
        () => done(new Error(`the runtime did not come back within ${WAIT_FOR_LINK_MS / 60_000} minutes.`)),
        WAIT_FOR_LINK_MS,
      );
    });
  }
}

async function save(relativePath: string): Promise<void> {
  const uri = workspaceUri(relativePath);
  const open = vscode.workspace.textDocuments.find((doc) => doc.uri.fsPath === uri.fsPath);
  if (open?.isDirty) {
    await open.save();
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
