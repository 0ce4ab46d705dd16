import { describe, expect, it } from "vitest";
import type { RunEntry } from "../../src/protocol";
import { elapsedText, noticeText, runRows } from "../../src/runsModel";

function run(overrides: Partial<RunEntry> = {}): RunEntry {
  return { id: "65a1b2c3d4e5f6", command: "python train.py", state: "running", started: 1000, ended: null, exitCode: null, ...overrides };
}

describe("elapsedText", () => {
  it("reads short for seconds, minutes and hours", () => {
    expect(elapsedText(4.9)).toBe("4 s");
    expect(elapsedText(125)).toBe("2 min 5 s");
    expect(elapsedText(3 * 3600 + 7 * 60 + 59)).toBe("3 h 07 min");
    // A runtime clock ahead of ours never shows a negative time.
    expect(elapsedText(-3)).toBe("0 s");
  });
});

describe("runRows", () => {
  it("shows a run still going with the time since it started, by this machine's clock", () => {
    const [row] = runRows("default", [run()], 1065);
    expect(row.label).toBe("python train.py");
    expect(row.description).toBe("running · 1 min 5 s");
    expect(row.icon).toBe("sync~spin");
    expect(row.tooltip).toContain("run 65a1b2c3d4e5f6 on default");
  });

  it("shows a finished run's exit code and its own duration, whatever the time now", () => {
    const [ok, failed] = runRows(
      "default",
      [run({ state: "exited", ended: 1010, exitCode: 0 }), run({ state: "exited", ended: 1002, exitCode: 7 })],
      99999,
    );
    expect([ok.description, ok.icon]).toEqual(["exit code 0 · 10 s", "pass"]);
    expect([failed.description, failed.icon]).toEqual(["exit code 7 · 2 s", "error"]);
  });

  it("says when a run was lost with its supervisor, and names a run without a command by id", () => {
    const [row] = runRows("gpu", [run({ state: "lost", command: "", ended: 1001 })], 2000);
    expect(row.label).toBe("65a1b2c3d4e5f6");
    expect(row.description).toContain("lost");
    expect(row.icon).toBe("question");
    expect(row.profile).toBe("gpu");
  });
});

describe("noticeText", () => {
  it("puts a link notice on a line of its own", () => {
    expect(noticeText("link lost; reconnecting…")).toBe("\r\n\x1b[33mColabLink: link lost; reconnecting…\x1b[0m\r\n");
  });
});
