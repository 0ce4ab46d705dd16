// The "ColabLink Runs" view: the runs each connected profile's supervisor keeps (state, elapsed,
// exit code). They outlive the link, a window reload and a helper restart; a click attaches a
// terminal that shows the output so far, then live. A terminal that loses the link says so and
// carries on; closing it (or Ctrl+C) interrupts the run, as for any run, unless the window goes.
import { randomUUID } from "node:crypto";
import * as vscode from "vscode";
import { followExec, interruptUnlessLeaving, toTerminalText } from "./execTerminal";
import type { HelperClient } from "./helperClient";
import { errorMessage, log } from "./logging";
import type { ProfileStore } from "./profiles";
import { Method, type RunAttachParams, type RunsResult } from "./protocol";
import { runRows, type RunRow } from "./runsModel";

export const RUNS_VIEW = "colablink.runs";
export const ATTACH_RUN = "colablink.attachRun";
export const REFRESH_RUNS = "colablink.refreshRuns";
/** While a profile is connected, the list is asked for this often (one small request). */
const POLL_MS = 5000;
const CTRL_C = "\x03";

export class RunsTree implements vscode.TreeDataProvider<RunRow>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private rows: RunRow[] = [];
  private shown = "";
  private readonly timer: NodeJS.Timeout;
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly helper: HelperClient,
    private readonly profiles: ProfileStore,
  ) {
    this.timer = setInterval(() => void this.refresh(), POLL_MS);
    this.subscription = profiles.onDidChange.event(() => {
      if (this.connected().length !== new Set(this.rows.map((r) => r.profile)).size) {
        void this.refresh();
      }
    });
  }

  private connected(): string[] {
    return this.profiles
      .all()
      .filter((status) => status.state === "connected")
      .map((status) => status.profile);
  }

  async refresh(): Promise<void> {
    const rows: RunRow[] = [];
    for (const profile of this.connected()) {
      try {
        const { runs } = await this.helper.request<RunsResult>(Method.RUNS, { profile });
        rows.push(...runRows(profile, runs, Date.now() / 1000));
      } catch (error) {
        log().debug(`Runs of ${profile}: ${errorMessage(error)}`);
      }
    }
    this.rows = rows;
    const text = JSON.stringify(rows.map((r) => [r.profile, r.label, r.description]));
    if (text !== this.shown) {
      this.shown = text;
      this.changed.fire(undefined);
    }
  }

  getChildren(row?: RunRow): RunRow[] {
    return row ? [] : this.rows;
  }

  getTreeItem(row: RunRow): vscode.TreeItem {
    const item = new vscode.TreeItem(row.label, vscode.TreeItemCollapsibleState.None);
    item.id = `${row.profile}:${row.run.id}`;
    item.description = row.description;
    item.tooltip = row.tooltip;
    item.iconPath = new vscode.ThemeIcon(row.icon);
    item.contextValue = row.run.state === "running" ? "colablink.runningRun" : "colablink.run";
    item.command = { command: ATTACH_RUN, title: "Attach", arguments: [row] };
    return item;
  }

  dispose(): void {
    clearInterval(this.timer);
    this.subscription.dispose();
    this.changed.dispose();
  }
}

/** A terminal following one run from its first byte to its exit code. */
export class RunAttachTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number | undefined>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private readonly cancel = new vscode.CancellationTokenSource();
  private readonly subscriptions: vscode.Disposable[] = [];
  private running = true;

  constructor(
    private readonly helper: HelperClient,
    private readonly row: RunRow,
  ) {}

  open(): void {
    const execId = randomUUID();
    this.writeEmitter.fire(`\x1b[2mColabLink: run ${this.row.run.id} on ${this.row.profile}: ${toTerminalText(this.row.label)}\x1b[0m\r\n`);
    const params: RunAttachParams = { profile: this.row.profile, runId: this.row.run.id, execId };
    const write = (text: string): void => this.writeEmitter.fire(text);
    this.subscriptions.push(followExec(this.helper, Method.RUN_ATTACH, params, this.cancel.token, write, (text) => this.finish(text)));
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
    this.dispose();
  }

  interrupt(): void {
    this.cancel.cancel();
  }

  private finish(text: string): void {
    this.running = false;
    this.writeEmitter.fire(text);
    this.writeEmitter.fire("\x1b[2mPress any key to close.\x1b[0m\r\n");
    this.dispose();
  }

  private dispose(): void {
    for (const subscription of this.subscriptions.splice(0)) {
      subscription.dispose();
    }
  }
}

/** The view, its refresh and its attach command. */
export function registerRunsView(helper: HelperClient, profiles: ProfileStore): vscode.Disposable[] {
  const tree = new RunsTree(helper, profiles);
  const attached = new Map<vscode.Terminal, RunAttachTerminal>();
  return [
    tree,
    vscode.window.registerTreeDataProvider(RUNS_VIEW, tree),
    vscode.commands.registerCommand(REFRESH_RUNS, () => tree.refresh()),
    vscode.commands.registerCommand(ATTACH_RUN, (row: RunRow) => {
      const pty = new RunAttachTerminal(helper, row);
      const name = `ColabLink run ${row.run.id}`;
      const terminal = vscode.window.createTerminal({ name, pty, iconPath: new vscode.ThemeIcon("vm-running") });
      attached.set(terminal, pty);
      terminal.show();
    }),
    vscode.window.onDidCloseTerminal((closed) => {
      const pty = attached.get(closed);
      if (pty) {
        attached.delete(closed);
        interruptUnlessLeaving(closed, pty);
      }
    }),
  ];
}
