// Finds the Python that runs the helper and, unless the user's own interpreter already has
// colablink, builds a private venv from the wheel shipped inside the extension.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import * as vscode from "vscode";
import { chooseInterpreter, planHelper, venvPython, type InterpreterChoice } from "./interpreter";
import { log } from "./logging";

const PYTHON_EXTENSION_ID = "ms-python.python";
const STAMP_FILE = "colablink-wheel.stamp";

interface PythonExtensionApi {
  environments: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(env: { path: string }): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  };
}

export class HelperSetupError extends Error {}

/** The interpreter command that will run `python -m colablink.helper`. */
export async function resolveHelperPython(context: vscode.ExtensionContext): Promise<string> {
  const setting = vscode.workspace.getConfiguration("colablink").get<string>("python");
  const choice = chooseInterpreter(setting, await pythonExtensionInterpreter());
  log().info(`Helper interpreter: ${choice.command} (from ${describe(choice)})`);
  const wheel = await bundledWheel(context.extensionPath);
  const bundledStamp = await stampOf(wheel);
  const venvDir = path.join(context.globalStorageUri.fsPath, "helper-venv");
  const installedStamp = await fs.readFile(path.join(venvDir, STAMP_FILE), "utf8").catch(() => undefined);
  const choiceHasColablink = choice.source === "setting" && (await importsColablink(choice.command));
  const plan = planHelper(choice, choiceHasColablink, installedStamp?.trim(), bundledStamp);
  if (plan.kind === "direct") {
    return plan.python;
  }
  if (plan.install) {
    await installVenv(plan.basePython, venvDir, wheel, bundledStamp);
  }
  return venvPython(venvDir, process.platform);
}

function describe(choice: InterpreterChoice): string {
  switch (choice.source) {
    case "setting":
      return "colablink.python";
    case "pythonExtension":
      return "the Python extension";
    case "default":
      return "default";
  }
}

async function pythonExtensionInterpreter(): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION_ID);
  if (!extension) {
    return undefined;
  }
  try {
    const api = extension.isActive ? extension.exports : await extension.activate();
    const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
    const env = await api.environments.resolveEnvironment(api.environments.getActiveEnvironmentPath(resource));
    return env?.executable.uri?.fsPath;
  } catch (error) {
    log().warn(`The Python extension did not name an interpreter: ${String(error)}`);
    return undefined;
  }
}

async function bundledWheel(extensionPath: string): Promise<string> {
  const dir = path.join(extensionPath, "extension", "wheel");
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const wheel = names.filter((name) => /^colablink-.*\.whl$/.test(name)).sort().pop();
  if (!wheel) {
    throw new HelperSetupError(`The ColabLink wheel is missing from ${dir}; reinstall the extension.`);
  }
  return path.join(dir, wheel);
}

async function stampOf(wheel: string): Promise<string> {
  const digest = createHash("sha256").update(await fs.readFile(wheel)).digest("hex");
  return `${path.basename(wheel)} ${digest}`;
}

function importsColablink(python: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(python, ["-c", "import colablink.helper"], { timeout: 20_000 }, (error) => resolve(!error));
  });
}

async function installVenv(basePython: string, venvDir: string, wheel: string, stamp: string): Promise<void> {
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: "ColabLink: installing the helper", cancellable: false },
    async (progress) => {
      await fs.rm(venvDir, { recursive: true, force: true });
      await fs.mkdir(path.dirname(venvDir), { recursive: true });
      progress.report({ message: "creating a virtual environment…" });
      await run(basePython, ["-m", "venv", venvDir], `Could not create a virtual environment with ${basePython}.`);
      progress.report({ message: "installing ColabLink and its dependencies…" });
      await run(
        venvPython(venvDir, process.platform),
        ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", wheel],
        "Could not install the ColabLink helper into its virtual environment.",
        (line) => progress.report({ message: line.slice(0, 80) }),
      );
      await fs.writeFile(path.join(venvDir, STAMP_FILE), stamp);
    },
  );
}

/** Runs a setup step, logging all of its output; fails with one sentence. */
function run(command: string, args: string[], failure: string, onLine?: (line: string) => void): Promise<void> {
  log().info(`$ ${command} ${args.join(" ")}`);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    const forward = (chunk: Buffer): void => {
      for (const line of chunk.toString("utf8").split(/\r?\n/)) {
        if (line.trim()) {
          log().info(line);
          onLine?.(line.trim());
        }
      }
    };
    child.stdout.on("data", forward);
    child.stderr.on("data", forward);
    child.on("error", (error) => {
      log().error(`${command}: ${error.message}`);
      reject(new HelperSetupError(failure));
    });
    child.on("close", (code) => (code === 0 ? resolve() : reject(new HelperSetupError(failure))));
  });
}
