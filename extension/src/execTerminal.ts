// A terminal that shows remote commands, one after another: live stdout/stderr, then the exit code.
// Closing the terminal or pressing Ctrl+C cancels the running request, which interrupts the remote
// process; a window that closes or reloads does not (the run goes on, and the Runs view finds it).
// A finished terminal takes the next run of the same file instead of a new one piling up.
import { randomUUID } from "node:crypto";
import * as vscode from "vscode";
import type { HelperClient } from "./helperClient";
import { errorMessage } from "./logging";
import { Method, type CellRunParams, type ExecParams, type ExecResult } from "./protocol";
import { noticeText } from "./runsModel";

export interface ExecRequest {
  profile: string;
  argv?: string[];
  commandLine?: string;
  cwd?: string;
  /** A "# %%" cell for its file's kernel instead of a command. */
  cell?: Omit<CellRunParams, "profile" | "execId">;
}

/** What must happen before the command starts (pushing the file); it waits while the link is down. */
export type BeforeRun = (token: vscode.CancellationToken) => Promise<unknown>;

/** After this long, a run still not started says it is waiting for the runtime. */
const WAITING_NOTE_MS = 400;

const CTRL_C = "\x03";

/** Terminals want CRLF; remote programs write LF. */
export function toTerminalText(data: string): string {
  return data.replace(/\r?\n/g, "\r\n");
}

/**
 * Streams one helper request that reports a run's output (`exec`, `runs/attach`) into a terminal:
 * its `execOutput` and `execNotice` (a dropped link is no end: the helper re-attaches and says so),
 * then one closing line with the exit code, "interrupted" after a cancel, or the error.
 */
export function followExec(
  helper: HelperClient,
  method: string,
  params: { execId: string },
  token: vscode.CancellationToken,
  write: (text: string) => void,
  finish: (text: string, exitCode: number | undefined) => void,
): vscode.Disposable {
  const output = helper.onExecOutput.event((output) => {
    if (output.execId === params.execId) {
      write(toTerminalText(output.data));
    }
  });
  const notices = helper.onExecNotice.event((notice) => {
    if (notice.execId === params.execId) {
      write(noticeText(notice.message));
    }
  });
  void helper.request<ExecResult>(method, params, token).then(
    (result) => finish(`\r\n\x1b[1mColabLink: exit code ${result.exitCode}\x1b[0m\r\n`, result.exitCode),
    (error: unknown) => {
      const text = token.isCancellationRequested ? "interrupted" : errorMessage(error);
      finish(`\r\n\x1b[31mColabLink: ${text}\x1b[0m\r\n`, undefined);
    },
  );
  return vscode.Disposable.from(output, notices);
}

export class ExecTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number | undefined>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private cancel = new vscode.CancellationTokenSource();
  private outputSubscription: vscode.Disposable | undefined;
  private opened = false;
  private closed = false;
  private running = false;
  private resolveDone: (code: number | undefined) => void = () => undefined;
  /** The latest run's exit code, or undefined when it failed or was cancelled. */
  done: Promise<number | undefined>;

  constructor(
    private readonly helper: HelperClient,
    private request: ExecRequest,
    private banner: string,
    private before?: BeforeRun,
  ) {
    this.done = this.nextDone();
    // Counted as running from the start: the first run begins when VS Code opens the terminal.
    this.running = true;
  }

  /** True once the latest run ended and the terminal can take another. */
  get idle(): boolean {
    return !this.running && !this.closed;
  }

  open(): void {
    this.opened = true;
    this.start();
  }

  /** Starts another run in this (idle) terminal. */
  rerun(request: ExecRequest, banner: string, before?: BeforeRun): void {
    this.request = request;
    this.banner = banner;
    this.before = before;
    this.cancel.dispose();
    this.cancel = new vscode.CancellationTokenSource();
    this.done = this.nextDone();
    this.running = true;
    this.writeEmitter.fire("\r\n");
    if (this.opened) {
      this.start();
    }
  }

  private nextDone(): Promise<number | undefined> {
    return new Promise<number | undefined>((resolve) => (this.resolveDone = resolve));
  }

  private start(): void {
    this.writeEmitter.fire(`\x1b[2m${toTerminalText(this.banner)}\x1b[0m\r\n`);
    const before = this.before;
    if (!before) {
      this.exec();
      return;
    }
    const cancel = this.cancel;
    let waited = false;
    const note = setTimeout(() => {
      waited = true;
      this.writeEmitter.fire("\x1b[33mColabLink: waiting for the runtime… (Ctrl+C or close this terminal to cancel)\x1b[0m\r\n");
    }, WAITING_NOTE_MS);
    before(cancel.token).then(
      () => {
        clearTimeout(note);
        if (cancel.token.isCancellationRequested) {
          this.finish("\r\n\x1b[31mColabLink: cancelled; the run never started.\x1b[0m\r\n", undefined);
          return;
        }
        if (waited) {
          this.writeEmitter.fire("\x1b[32mColabLink: the runtime is back; starting the run.\x1b[0m\r\n");
        }
        this.exec();
      },
      (error: unknown) => {
        clearTimeout(note);
        const why = cancel.token.isCancellationRequested ? "cancelled" : errorMessage(error);
        this.finish(`\r\n\x1b[31mColabLink: the run never started: ${why}\x1b[0m\r\n`, undefined);
      },
    );
  }

  private exec(): void {
    const execId = randomUUID();
    const { cell, ...command } = this.request;
    const [method, params]: [string, ExecParams | CellRunParams] = cell
      ? [Method.CELL_RUN, { profile: command.profile, execId, ...cell }]
      : [Method.EXEC, { ...command, execId }];
    const write = (text: string): void => this.writeEmitter.fire(text);
    this.outputSubscription = followExec(this.helper, method, params, this.cancel.token, write, (text, exitCode) =>
      this.finish(text, exitCode),
    );
  }

  handleInput(data: string): void {
    if (!this.running) {
      this.closeEmitter.fire(undefined);
    } else if (data === CTRL_C) {
      this.writeEmitter.fire("^C");
      this.cancel.cancel();
    }
  }

  close(): void {
    this.closed = true;
    this.outputSubscription?.dispose();
  }

  /** The terminal was closed by the person or an extension, not by the window going: interrupt. */
  interrupt(): void {
    this.cancel.cancel();
  }

  private finish(text: string, exitCode: number | undefined): void {
    this.running = false;
    this.writeEmitter.fire(text);
    this.writeEmitter.fire("\x1b[2mPress any key to close; the next run reuses this terminal.\x1b[0m\r\n");
    this.outputSubscription?.dispose();
    this.resolveDone(exitCode);
  }
}

/** Closing a run's terminal interrupts the run, but not when the window closes or reloads. */
export function interruptUnlessLeaving(closed: vscode.Terminal, pty: { interrupt(): void }): void {
  if (closed.exitStatus?.reason !== vscode.TerminalExitReason.Shutdown) {
    pty.interrupt();
  }
}

/** The run terminals, one per key (a file, or "command"): an idle one is reused, a busy one is not. */
export class RunTerminals implements vscode.Disposable {
  private readonly byKey = new Map<string, { terminal: vscode.Terminal; pty: ExecTerminal }>();
  private readonly subscription = vscode.window.onDidCloseTerminal((closed) => {
    for (const [key, entry] of this.byKey) {
      if (entry.terminal === closed) {
        this.byKey.delete(key);
        interruptUnlessLeaving(closed, entry.pty);
      }
    }
  });

  constructor(private readonly helper: HelperClient) {}

  run(key: string, name: string, request: ExecRequest, banner: string, before?: BeforeRun): ExecTerminal {
    const reusable = this.byKey.get(key);
    if (reusable?.pty.idle) {
      reusable.pty.rerun(request, banner, before);
      reusable.terminal.show();
      return reusable.pty;
    }
    const pty = new ExecTerminal(this.helper, request, banner, before);
    const terminal = vscode.window.createTerminal({ name, pty, iconPath: new vscode.ThemeIcon("vm-running") });
    terminal.show();
    // A busy terminal keeps its run; the newest terminal is the one the next run reuses.
    this.byKey.set(key, { terminal, pty });
    return pty;
  }

  dispose(): void {
    this.subscription.dispose();
  }
}
