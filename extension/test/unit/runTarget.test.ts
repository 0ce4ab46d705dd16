import { describe, expect, it } from "vitest";
import { runRefusal } from "../../src/runTarget";

const python = { scheme: "file", languageId: "python", fileName: "/w/train.py" };

describe("runRefusal", () => {
  it("lets a saved Python file run", () => {
    expect(runRefusal(python, undefined, "python3")).toBeUndefined();
  });

  it("says what it would run for a file that is not Python", () => {
    const text = runRefusal({ scheme: "file", languageId: "shellscript", fileName: "/w/run.sh" }, undefined, "python3");
    expect(text).toBe("run.sh is not a Python file, so Run Current File would run “python3 run.sh” and fail; use Run Command on Colab… for other programs.");
  });

  it("gives a notebook its own message, whatever text editor is behind it", () => {
    expect(runRefusal(python, "/w/analysis.ipynb", "python3")).toMatch(/^analysis\.ipynb is a notebook, and ColabLink runs Python files/);
  });

  it("refuses unsaved editors and no editor at all", () => {
    expect(runRefusal({ ...python, scheme: "untitled" }, undefined, "python3")).toMatch(/save this editor/);
    expect(runRefusal(undefined, undefined, "python3")).toBe("Open the Python file to run in an editor first.");
  });
});
