// The "ColabLink Ports" view: the runtime's listening ports with their process, forwarded or not.
import * as vscode from "vscode";
import type { Forwards } from "./forwards";
import { portRows, type PortRow } from "./portsModel";
import type { ProfileStore } from "./profiles";

export const PORTS_VIEW = "colablink.ports";

export class PortsTree implements vscode.TreeDataProvider<PortRow>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscriptions: vscode.Disposable[];
  private shown = "";

  constructor(
    private readonly profiles: ProfileStore,
    private readonly forwards: Forwards,
  ) {
    // Statuses arrive every few seconds; redraw only when the rows would read differently.
    const maybeRefresh = (): void => {
      const text = JSON.stringify(this.rows().map((r) => [r.label, r.description, r.tooltip]));
      if (text !== this.shown) {
        this.shown = text;
        this.changed.fire(undefined);
      }
    };
    this.subscriptions = [profiles.onDidChange.event(maybeRefresh), forwards.onDidChange.event(maybeRefresh)];
  }

  private rows(): PortRow[] {
    return portRows(this.profiles.all(), this.forwards.all());
  }

  getChildren(row?: PortRow): PortRow[] {
    return row ? [] : this.rows();
  }

  getTreeItem(row: PortRow): vscode.TreeItem {
    const item = new vscode.TreeItem(row.label, vscode.TreeItemCollapsibleState.None);
    item.id = `${row.profile}:${row.port.host}:${row.port.port}`;
    item.description = row.description;
    item.tooltip = row.tooltip;
    item.iconPath = new vscode.ThemeIcon(row.forward ? "radio-tower" : "plug");
    item.contextValue = row.forward ? "colablink.forwardedPort" : "colablink.port";
    return item;
  }

  dispose(): void {
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
    this.changed.dispose();
  }
}
