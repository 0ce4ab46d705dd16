import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { buildOutputsTree, entriesToNodes, formatSize } from "../../src/outputsModel";
import type { OutputsResult } from "../../src/protocol";

const result: OutputsResult = {
  localDir: "/work/proj/colab_outputs",
  remoteDir: "/content/proj/outputs",
  entries: [
    { name: "out.txt", path: "out.txt", kind: "file", size: 12, mtime: 1 },
    { name: "model.pt", path: "ckpt/model.pt", kind: "file", size: 5 * 1024 * 1024, mtime: 1 },
    { name: "ckpt", path: "ckpt", kind: "directory", size: 0, mtime: 1 },
    { name: "a.log", path: "a.log", kind: "file", size: 2048, mtime: 1 },
  ],
};

describe("buildOutputsTree", () => {
  it("makes one node per profile, sorted, with the local directory as description", () => {
    const tree = buildOutputsTree([
      { profile: "train", result },
      { profile: "exp", result: { ...result, entries: [] } },
    ]);
    expect(tree.map((n) => n.label)).toEqual(["exp", "train"]);
    expect(tree[1].description).toBe("/work/proj/colab_outputs");
    expect(tree[0].children).toEqual([]);
  });

  it("lists directories first, then files by name, each file with its size", () => {
    const [profile] = buildOutputsTree([{ profile: "train", result }]);
    expect(profile.children.map((n) => `${n.kind}:${n.label}:${n.description}`)).toEqual([
      "directory:ckpt:",
      "file:a.log:2.0 KB",
      "file:out.txt:12 B",
    ]);
  });

  it("nests entries under their directory, whatever order they come in", () => {
    const [profile] = buildOutputsTree([{ profile: "train", result }]);
    const ckpt = profile.children[0];
    expect(ckpt.children.map((n) => n.label)).toEqual(["model.pt"]);
    expect(ckpt.children[0].description).toBe("5.0 MB");
  });

  it("knows each file's local and remote path", () => {
    const [profile] = buildOutputsTree([{ profile: "train", result }]);
    const model = profile.children[0].children[0];
    expect(model.localPath).toBe(path.join("/work/proj/colab_outputs", "ckpt", "model.pt"));
    expect(model.remotePath).toBe("/content/proj/outputs/ckpt/model.pt");
    expect(model.relativePath).toBe("ckpt/model.pt");
    expect(model.profile).toBe("train");
  });

  it("shows a listing error on the profile node", () => {
    const [profile] = buildOutputsTree([{ profile: "train", error: "The runtime is unreachable." }]);
    expect(profile.description).toBe("The runtime is unreachable.");
    expect(profile.children).toEqual([]);
  });

  it("returns a sub-directory listing as top-level nodes", () => {
    const sub: OutputsResult = {
      ...result,
      entries: [{ name: "model.pt", path: "ckpt/model.pt", kind: "file", size: 1, mtime: 1 }],
    };
    expect(entriesToNodes("train", sub).map((n) => n.relativePath)).toEqual(["ckpt/model.pt"]);
  });
});

describe("formatSize", () => {
  it("uses bytes, then binary units", () => {
    expect(formatSize(0)).toBe("0 B");
    expect(formatSize(1023)).toBe("1023 B");
    expect(formatSize(1536)).toBe("1.5 KB");
    expect(formatSize(200 * 1024)).toBe("200 KB");
    expect(formatSize(3 * 1024 ** 3)).toBe("3.0 GB");
  });
});
