// Builds the "ColabLink Outputs" tree from the helper's listings; pure so it can be tested.
import * as path from "node:path";
import type { OutputEntry, OutputsResult } from "./protocol";

export interface ProfileListing {
  profile: string;
  result?: OutputsResult;
  error?: string;
}

export interface ProfileNode {
  kind: "profile";
  profile: string;
  label: string;
  description: string;
  children: EntryNode[];
}

export interface EntryNode {
  kind: "file" | "directory";
  profile: string;
  label: string;
  description: string;
  /** Path relative to the connection directory, "/"-separated. */
  relativePath: string;
  localPath: string;
  remotePath: string;
  children: EntryNode[];
}

export type OutputsNode = ProfileNode | EntryNode;

export function buildOutputsTree(listings: readonly ProfileListing[]): ProfileNode[] {
  return [...listings]
    .sort((a, b) => a.profile.localeCompare(b.profile))
    .map((listing) => ({
      kind: "profile" as const,
      profile: listing.profile,
      label: listing.profile,
      description: listing.error ?? listing.result?.localDir ?? "",
      children: listing.result ? entriesToNodes(listing.profile, listing.result) : [],
    }));
}

/** Nests entries by their relative paths, so both a flat and a recursive listing come out right. */
export function entriesToNodes(profile: string, result: OutputsResult): EntryNode[] {
  const byPath = new Map<string, EntryNode>();
  const roots: EntryNode[] = [];
  const ordered = [...result.entries].sort((a, b) => depth(a) - depth(b));
  for (const entry of ordered) {
    const rel = normalise(entry.path || entry.name);
    const node: EntryNode = {
      kind: entry.kind,
      profile,
      label: entry.name,
      description: entry.kind === "file" ? formatSize(entry.size) : "",
      relativePath: rel,
      localPath: path.join(result.localDir, ...rel.split("/")),
      remotePath: path.posix.join(result.remoteDir, rel),
      children: [],
    };
    byPath.set(rel, node);
    const parent = byPath.get(path.posix.dirname(rel));
    (parent ? parent.children : roots).push(node);
  }
  sortNodes(roots);
  return roots;
}

function normalise(rel: string): string {
  return rel.split(/[\\/]+/).filter((part) => part !== "" && part !== ".").join("/");
}

function depth(entry: OutputEntry): number {
  return normalise(entry.path || entry.name).split("/").length;
}

function sortNodes(nodes: EntryNode[]): void {
  nodes.sort((a, b) => {
    if (a.kind !== b.kind) {
      return a.kind === "directory" ? -1 : 1;
    }
    return a.label.localeCompare(b.label);
  });
  for (const node of nodes) {
    sortNodes(node.children);
  }
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
