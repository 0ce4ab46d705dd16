// "Open Shell on Colab": a Pseudoterminal over the helper's colablink/pty/* methods.
import * as vscode from "vscode";
import type { HelperClient } from "./helperClient";
import { errorMessage } from "./logging";
import { Method, type PtyOpenResult, type PtyOutputParams } from "./protocol";

/** The exit code the helper reports when the shell ended without a status of its own. */
const LINK_CLOSED = -1;
export const SHELL_DISCONNECTED = "the connection to the runtime closed, so this shell ended.";

export class ShellTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number | undefined>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private ptyId: string | undefined;
  private closed = false;
  private ended = false;
  // Output or keystrokes that arrive before pty/open has answered are held, not lost.
  private earlyOutput: PtyOutputParams[] = [];
  private pendingInput: string[] = [];
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly helper: HelperClient,
    private readonly profile: string,
  ) {}

  open(dimensions: vscode.TerminalDimensions | undefined): void {
    this.subscriptions.push(
      this.helper.onPtyOutput.event((output) => {
        if (this.ptyId === undefined) {
          this.earlyOutput.push(output);
        } else if (output.ptyId === this.ptyId) {
          this.writeEmitter.fire(output.data);
        }
      }),
      this.helper.onPtyExit.event((exit) => {
        if (exit.ptyId !== this.ptyId) {
          return;
        }
        if (exit.exitCode === LINK_CLOSED) {
          // Not the shell's doing: say so ourselves rather than VS Code's "exit code -1".
          this.writeEmitter.fire(`\r\n\x1b[1mColabLink: ${SHELL_DISCONNECTED}\x1b[0m\r\n\x1b[2mPress any key to close.\x1b[0m\r\n`);
          this.ended = true;
          this.dispose();
        } else {
          this.writeEmitter.fire(`\r\n\x1b[2mColabLink: shell exited with code ${exit.exitCode}\x1b[0m\r\n`);
          this.end(exit.exitCode);
        }
      }),
    );
    const cols = dimensions?.columns ?? 80;
    const rows = dimensions?.rows ?? 24;
    this.helper.request<PtyOpenResult>(Method.PTY_OPEN, { profile: this.profile, cols, rows }).then(
      (result) => {
        this.ptyId = result.ptyId;
        for (const output of this.earlyOutput.filter((o) => o.ptyId === result.ptyId)) {
          this.writeEmitter.fire(output.data);
        }
        this.earlyOutput = [];
        for (const data of this.pendingInput) {
          void this.helper.send(Method.PTY_INPUT, { ptyId: result.ptyId, data });
        }
        this.pendingInput = [];
        if (this.closed) {
          void this.helper.send(Method.PTY_CLOSE, { ptyId: result.ptyId });
        }
      },
      (error: unknown) => {
        this.writeEmitter.fire(`\x1b[31mColabLink: ${errorMessage(error)}\x1b[0m\r\n`);
      },
    );
  }

  handleInput(data: string): void {
    if (this.ended) {
      this.closeEmitter.fire(undefined);
      return;
    }
    if (this.ptyId === undefined) {
      this.pendingInput.push(data);
      return;
    }
    void this.helper.send(Method.PTY_INPUT, { ptyId: this.ptyId, data });
  }

  setDimensions(dimensions: vscode.TerminalDimensions): void {
    if (this.ptyId !== undefined) {
      void this.helper.send(Method.PTY_RESIZE, {
        ptyId: this.ptyId,
        cols: dimensions.columns,
        rows: dimensions.rows,
      });
    }
  }

  close(): void {
    this.closed = true;
    if (this.ptyId !== undefined) {
      void this.helper.send(Method.PTY_CLOSE, { ptyId: this.ptyId });
    }
    this.dispose();
  }

  private end(code: number): void {
    this.dispose();
    this.closeEmitter.fire(code);
  }

  private dispose(): void {
    for (const subscription of this.subscriptions.splice(0)) {
      subscription.dispose();
    }
  }
}

export function openShell(helper: HelperClient, profile: string): vscode.Terminal {
  const terminal = vscode.window.createTerminal({
    name: `Colab shell (${profile})`,
    pty: new ShellTerminal(helper, profile),
    iconPath: new vscode.ThemeIcon("terminal"),
  });
  terminal.show();
  return terminal;
}
