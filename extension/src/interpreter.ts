// Which Python runs the helper, and whether the bundled wheel must be (re)installed; pure.
import * as path from "node:path";

export type InterpreterSource = "setting" | "pythonExtension" | "default";

export interface InterpreterChoice {
  command: string;
  source: InterpreterSource;
}

/** Order: the colablink.python setting, the Python extension's active interpreter, python3. */
export function chooseInterpreter(setting: string | undefined, pythonExtension: string | undefined): InterpreterChoice {
  const configured = setting?.trim();
  if (configured) {
    return { command: configured, source: "setting" };
  }
  const active = pythonExtension?.trim();
  if (active) {
    return { command: active, source: "pythonExtension" };
  }
  return { command: "python3", source: "default" };
}

export type HelperPlan =
  | { kind: "direct"; python: string }
  | { kind: "venv"; basePython: string; install: boolean };

/**
 * Only an interpreter the user named in colablink.python and that already has colablink runs the
 * helper directly; anything else gets a private venv holding the bundled wheel, reinstalled
 * whenever the bundled wheel differs from the one the venv was built from.
 */
export function planHelper(
  choice: InterpreterChoice,
  choiceHasColablink: boolean,
  installedStamp: string | undefined,
  bundledStamp: string,
): HelperPlan {
  if (choice.source === "setting" && choiceHasColablink) {
    return { kind: "direct", python: choice.command };
  }
  return { kind: "venv", basePython: choice.command, install: installedStamp !== bundledStamp };
}

export function venvPython(venvDir: string, platform: NodeJS.Platform): string {
  return platform === "win32" ? path.join(venvDir, "Scripts", "python.exe") : path.join(venvDir, "bin", "python");
}
