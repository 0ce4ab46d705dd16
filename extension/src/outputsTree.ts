// The "ColabLink Outputs" view: one node per profile, then the connection directory's files.
import * as vscode from "vscode";
import type { HelperClient } from "./helperClient";
import { errorMessage, log } from "./logging";
import { buildOutputsTree, entriesToNodes, type EntryNode, type OutputsNode, type ProfileListing } from "./outputsModel";
import type { ProfileStore } from "./profiles";
import { Method, type OutputsResult } from "./protocol";

export const OUTPUTS_VIEW = "colablink.outputs";

export class OutputsTree implements vscode.TreeDataProvider<OutputsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<OutputsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscriptions: vscode.Disposable[];
  private knownProfiles = "";

  constructor(
    private readonly helper: HelperClient,
    private readonly profiles: ProfileStore,
  ) {
    // Refresh on the helper's word only: pulled files and profiles appearing or going; no polling.
    this.subscriptions = [
      helper.onOutputsChanged.event(() => this.refresh()),
      profiles.onDidChange.event(() => {
        const names = this.profiles.all().map((s) => s.profile).sort().join("\n");
        if (names !== this.knownProfiles) {
          this.knownProfiles = names;
          this.refresh();
        }
      }),
    ];
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  async getChildren(node?: OutputsNode): Promise<OutputsNode[]> {
    if (!node) {
      const listings = await Promise.all(this.profiles.all().map((s) => this.list(s.profile)));
      return buildOutputsTree(listings);
    }
    if (node.kind === "directory" && node.children.length === 0) {
      const listing = await this.list(node.profile, node.relativePath);
      return listing.result ? entriesToNodes(node.profile, listing.result) : [];
    }
    return node.children;
  }

  getTreeItem(node: OutputsNode): vscode.TreeItem {
    if (node.kind === "profile") {
      const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `profile:${node.profile}`;
      item.description = node.description;
      item.iconPath = new vscode.ThemeIcon("vm");
      item.contextValue = "colablink.profile";
      return item;
    }
    return entryItem(node);
  }

  private async list(profile: string, path?: string): Promise<ProfileListing> {
    try {
      const params = path === undefined ? { profile } : { profile, path };
      return { profile, result: await this.helper.request<OutputsResult>(Method.OUTPUTS, params) };
    } catch (error) {
      log().warn(`Listing outputs of ${profile}: ${errorMessage(error)}`);
      return { profile, error: errorMessage(error) };
    }
  }

  dispose(): void {
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
    this.changed.dispose();
  }
}

function entryItem(node: EntryNode): vscode.TreeItem {
  const isDir = node.kind === "directory";
  const item = new vscode.TreeItem(
    node.label,
    isDir ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
  );
  item.id = `${node.profile}:${node.relativePath}`;
  item.description = node.description;
  item.resourceUri = vscode.Uri.file(node.localPath);
  item.tooltip = `${node.localPath}\n${node.remotePath}`;
  item.contextValue = isDir ? "colablink.outputDirectory" : "colablink.outputFile";
  if (!isDir) {
    item.command = { command: "vscode.open", title: "Open", arguments: [vscode.Uri.file(node.localPath)] };
  }
  return item;
}
