import { describe, expect, it } from "vitest";
import { findRemoteLinks } from "../../src/remoteLinks";

const mappings = [
  { remote: "/content/src", local: "/home/me/proj" },
  { remote: "/content/src/proj_outputs", local: "/home/me/proj/colab_outputs" },
];

describe("findRemoteLinks", () => {
  it("links a traceback line to the local file and line", () => {
    const text = '  File "/content/src/pkg/model.py", line 12, in forward';
    const [link] = findRemoteLinks(text, mappings);
    expect(link).toEqual({ startIndex: 8, length: '/content/src/pkg/model.py", line 12'.length, localPath: "/home/me/proj/pkg/model.py", line: 12 });
  });

  it("reads path:line:column", () => {
    const [link] = findRemoteLinks("error at /content/src/a.py:3:7 here", mappings);
    expect(link).toMatchObject({ localPath: "/home/me/proj/a.py", line: 3, column: 7, startIndex: 9 });
    expect("error at /content/src/a.py:3:7 here".slice(link.startIndex, link.startIndex + link.length)).toBe("/content/src/a.py:3:7");
  });

  it("maps the connection directory to the local output folder, the deepest mapping winning", () => {
    const [link] = findRemoteLinks("/content/src/proj_outputs/log.txt", mappings);
    expect(link.localPath).toBe("/home/me/proj/colab_outputs/log.txt");
    expect(link.line).toBeUndefined();
  });

  it("finds several links and ignores paths outside the roots", () => {
    const text = "/usr/lib/python3/x.py:1 /content/src/a.py:2 /content/srcx/b.py:3 /content/src/b.py";
    expect(findRemoteLinks(text, mappings).map((l) => l.localPath)).toEqual(["/home/me/proj/a.py", "/home/me/proj/b.py"]);
  });

  it("refuses paths that climb out or carry control characters", () => {
    expect(findRemoteLinks("/content/src/../../etc/passwd:1", mappings)).toEqual([]);
    expect(findRemoteLinks("/content/src/a//b.py", mappings)).toEqual([]);
    expect(findRemoteLinks("/content/src/./a.py", mappings)).toEqual([]);
    expect(findRemoteLinks("/content/src/a\u0007.py", mappings)).toEqual([]);
  });

  it("treats a root's regex characters literally and ignores unusable roots", () => {
    const odd = [{ remote: "/data/a+b", local: "/l" }, { remote: "relative", local: "/x" }, { remote: "/", local: "/y" }];
    expect(findRemoteLinks("/data/aab/x.py /data/a+b/x.py", odd).map((l) => l.localPath)).toEqual(["/l/x.py"]);
    expect(findRemoteLinks("relative/x.py", odd)).toEqual([]);
  });
});
