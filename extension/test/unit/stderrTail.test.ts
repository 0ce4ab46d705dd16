import { describe, expect, it } from "vitest";
import { crashReport, describeExit, STDERR_TAIL_LINES, StderrTail } from "../../src/stderrTail";

describe("StderrTail", () => {
  it("joins lines split across chunks and keeps an unfinished last line", () => {
    const tail = new StderrTail();
    tail.write("Traceback (most rec");
    tail.write("ent call last):\r\n  File \"x.py\"\n");
    tail.write("ModuleNotFoundError: No module named 'pygls'");
    expect(tail.lines()).toEqual([
      "Traceback (most recent call last):",
      '  File "x.py"',
      "ModuleNotFoundError: No module named 'pygls'",
    ]);
    expect(tail.dropped).toBe(0);
  });

  it("keeps only the newest lines and counts the dropped ones", () => {
    const tail = new StderrTail(3);
    tail.write(["1", "2", "3", "4", "5", ""].join("\n"));
    expect(tail.lines()).toEqual(["3", "4", "5"]);
    expect(tail.dropped).toBe(2);
  });

  it("holds 200 lines by default", () => {
    const tail = new StderrTail();
    for (let i = 0; i < 250; i += 1) {
      tail.write(`line ${i}\n`);
    }
    expect(STDERR_TAIL_LINES).toBe(200);
    expect(tail.lines()).toHaveLength(200);
    expect(tail.lines()[0]).toBe("line 50");
    expect(tail.lines()[199]).toBe("line 249");
    expect(tail.dropped).toBe(50);
  });
});

describe("describeExit", () => {
  it("names a code, a signal or a launch failure", () => {
    expect(describeExit({ code: 1, signal: null })).toBe("exited with code 1");
    expect(describeExit({ code: null, signal: "SIGKILL" })).toBe("was killed by SIGKILL");
    expect(describeExit({ launchError: "spawn /nope ENOENT" })).toBe("could not be launched (spawn /nope ENOENT)");
  });
});

describe("crashReport", () => {
  it("puts a headline before the traceback", () => {
    const tail = new StderrTail();
    tail.write("Traceback (most recent call last):\nImportError: boom\n");
    expect(crashReport({ code: 1, signal: null }, tail)).toEqual([
      "The helper exited with code 1; its last 2 stderr lines:",
      "Traceback (most recent call last):",
      "ImportError: boom",
    ]);
  });

  it("says how many older lines are gone", () => {
    const tail = new StderrTail(2);
    tail.write("a\nb\nc\n");
    expect(crashReport({ code: null, signal: "SIGSEGV" }, tail)[0]).toBe(
      "The helper was killed by SIGSEGV; its last 2 stderr lines (1 earlier lines dropped):",
    );
  });

  it("is one line when stderr was silent", () => {
    expect(crashReport({ code: 0, signal: null }, new StderrTail())).toEqual([
      "The helper exited with code 0 and wrote nothing to stderr.",
    ]);
    const blank = new StderrTail();
    blank.write("\n\n");
    expect(crashReport({ launchError: "spawn python3 EACCES" }, blank)).toEqual([
      "The helper could not be launched (spawn python3 EACCES) and wrote nothing to stderr.",
    ]);
  });
});
