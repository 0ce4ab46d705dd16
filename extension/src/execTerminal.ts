// A terminal that shows one remote command: live stdout/stderr, then its exit code.
// Closing the terminal or pressing Ctrl+C cancels the request, which interrupts the remote process.
import { randomUUID } from "node:crypto";
import * as vscode from "vscode";
import type { HelperClient } from "./helperClient";
import { errorMessage } from "./logging";
import { Method, type ExecParams, type ExecResult } from "./protocol";

export interface ExecRequest {
  profile: string;
  argv?: string[];
  commandLine?: string;
  cwd?: string;
}

const CTRL_C = "\x03";

/** Terminals want CRLF; remote programs write LF. */
export function toTerminalText(data: string): string {
  return data.replace(/\r?\n/g, "\r\n");
}

export class ExecTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number | undefined>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private readonly cancel = new vscode.CancellationTokenSource();
  private outputSubscription: vscode.Disposable | undefined;
  private finished = false;
  private resolveDone: (code: number | undefined) => void = () => undefined;
  /** Resolves with the exit code, or undefined when the run failed or was cancelled. */
  readonly done = new Promise<number | undefined>((resolve) => (this.resolveDone = resolve));

  constructor(
    private readonly helper: HelperClient,
    private readonly request: ExecRequest,
    private readonly banner: string,
  ) {}

  open(): void {
    const execId = randomUUID();
    this.outputSubscription = this.helper.onExecOutput.event((output) => {
      if (output.execId === execId) {
        this.writeEmitter.fire(toTerminalText(output.data));
      }
    });
    this.writeEmitter.fire(`\x1b[2m${toTerminalText(this.banner)}\x1b[0m\r\n`);
    const params: ExecParams = { ...this.request, execId };
    void this.helper.request<ExecResult>(Method.EXEC, params, this.cancel.token).then(
      (result) => this.finish(`\r\n\x1b[1mColabLink: exit code ${result.exitCode}\x1b[0m\r\n`, result.exitCode),
      (error: unknown) => {
        const text = this.cancel.token.isCancellationRequested ? "interrupted" : errorMessage(error);
        this.finish(`\r\n\x1b[31mColabLink: ${text}\x1b[0m\r\n`, undefined);
      },
    );
  }

  handleInput(data: string): void {
    if (this.finished) {
      this.closeEmitter.fire(undefined);
    } else if (data === CTRL_C) {
      this.writeEmitter.fire("^C");
      this.cancel.cancel();
    }
  }

  close(): void {
    this.cancel.cancel();
    this.dispose();
  }

  private finish(text: string, exitCode: number | undefined): void {
    this.finished = true;
    this.writeEmitter.fire(text);
    this.writeEmitter.fire("\x1b[2mPress any key to close.\x1b[0m\r\n");
    this.outputSubscription?.dispose();
    this.resolveDone(exitCode);
  }

  private dispose(): void {
    this.outputSubscription?.dispose();
    this.cancel.dispose();
  }
}

export function runInTerminal(helper: HelperClient, request: ExecRequest, name: string, banner: string): ExecTerminal {
  const pty = new ExecTerminal(helper, request, banner);
  const terminal = vscode.window.createTerminal({ name, pty, iconPath: new vscode.ThemeIcon("vm-running") });
  terminal.show();
  return pty;
}
