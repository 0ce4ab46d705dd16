import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { chooseInterpreter, planHelper, venvPython } from "../../src/interpreter";

describe("chooseInterpreter", () => {
  it("takes the colablink.python setting first", () => {
    expect(chooseInterpreter("/opt/py/bin/python", "/venv/bin/python")).toEqual({
      command: "/opt/py/bin/python",
      source: "setting",
    });
  });

  it("then the Python extension's active interpreter", () => {
    expect(chooseInterpreter("", "/venv/bin/python")).toEqual({ command: "/venv/bin/python", source: "pythonExtension" });
    expect(chooseInterpreter("   ", "/venv/bin/python").source).toBe("pythonExtension");
    expect(chooseInterpreter(undefined, "/venv/bin/python").source).toBe("pythonExtension");
  });

  it("else python3", () => {
    expect(chooseInterpreter(undefined, undefined)).toEqual({ command: "python3", source: "default" });
    expect(chooseInterpreter("", "")).toEqual({ command: "python3", source: "default" });
  });
});

describe("planHelper", () => {
  const stamp = "colablink-0.1.0-py3-none-any.whl abc";

  it("runs the helper directly only from a configured interpreter that has colablink", () => {
    expect(planHelper({ command: "/p", source: "setting" }, true, undefined, stamp)).toEqual({
      kind: "direct",
      python: "/p",
    });
  });

  it("installs the bundled wheel when the configured interpreter lacks colablink", () => {
    expect(planHelper({ command: "/p", source: "setting" }, false, undefined, stamp)).toEqual({
      kind: "venv",
      basePython: "/p",
      install: true,
    });
  });

  it("always uses the private venv for discovered interpreters", () => {
    expect(planHelper({ command: "/venv/bin/python", source: "pythonExtension" }, true, stamp, stamp)).toEqual({
      kind: "venv",
      basePython: "/venv/bin/python",
      install: false,
    });
    expect(planHelper({ command: "python3", source: "default" }, false, undefined, stamp).kind).toBe("venv");
  });

  it("reinstalls when the bundled wheel changed", () => {
    const plan = planHelper({ command: "python3", source: "default" }, false, "colablink-0.0.9 old", stamp);
    expect(plan).toEqual({ kind: "venv", basePython: "python3", install: true });
  });
});

describe("venvPython", () => {
  it("knows where a venv keeps its interpreter", () => {
    expect(venvPython("/s/venv", "linux")).toBe(path.join("/s/venv", "bin", "python"));
    expect(venvPython("/s/venv", "win32")).toBe(path.join("/s/venv", "Scripts", "python.exe"));
  });
});
