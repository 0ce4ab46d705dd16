// Pure: where a terminal line names a file under a runtime's source root (a traceback's
// `File "/content/src/model.py", line 12`, or `/content/src/model.py:12:5`), and which local file
// that is. Text from the runtime is not trusted: a path that climbs out (`..`) or holds control
// characters is no link.
import * as path from "node:path";

/** A remote directory and the local directory that mirrors it. */
export interface PathMapping {
  remote: string;
  local: string;
}

export interface RemoteLink {
  startIndex: number;
  length: number;
  localPath: string;
  /** 1-based, as tracebacks count. */
  line?: number;
  column?: number;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function normalRoot(root: string): string | undefined {
  const trimmed = root.replace(/\/+$/, "");
  return trimmed.startsWith("/") && !/[\s\p{Cc}]/u.test(trimmed) ? trimmed : undefined;
}

/** The local path for `relative` under `local`, or undefined when it would leave `local`. */
function localFor(local: string, relative: string): string | undefined {
  const segments = relative.split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..") || /\p{Cc}/u.test(relative)) {
    return undefined;
  }
  return path.join(local, ...segments);
}

/**
 * The links in `text`; where mappings nest (the connection directory inside the source root),
 * the deepest one decides.
 */
export function findRemoteLinks(text: string, mappings: readonly PathMapping[]): RemoteLink[] {
  const roots = mappings
    .map((m) => ({ remote: normalRoot(m.remote), local: m.local }))
    .filter((m): m is PathMapping => m.remote !== undefined)
    .sort((a, b) => b.remote.length - a.remote.length);
  if (roots.length === 0) {
    return [];
  }
  const alternatives = [...new Set(roots.map((r) => escapeRegExp(r.remote)))].join("|");
  const pattern = new RegExp(`(${alternatives})/([^\\s"'\`:,;()\\[\\]<>]+)(?:(?:", line |:)(\\d+)(?::(\\d+))?)?`, "g");
  const links: RemoteLink[] = [];
  for (const match of text.matchAll(pattern)) {
    const full = `${match[1]}/${match[2]}`;
    const mapping = roots.find((r) => full.startsWith(`${r.remote}/`));
    const localPath = mapping && localFor(mapping.local, full.slice(mapping.remote.length + 1));
    if (!localPath) {
      continue;
    }
    const link: RemoteLink = { startIndex: match.index, length: match[0].length, localPath };
    if (match[3] !== undefined) {
      link.line = Number(match[3]);
    }
    if (match[4] !== undefined) {
      link.column = Number(match[4]);
    }
    links.push(link);
  }
  return links;
}
