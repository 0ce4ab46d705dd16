// End-to-end: the packaged ColabLink extension in a real VS Code (code-server) in Chromium, with the
// real helper (installed from the VSIX's wheel into a fresh venv) and a real local runtime.
// Usage: node scenario.ts <path to colablink.vsix>   (run.sh builds the VSIX and calls this)
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import type { Locator, Page } from "playwright-core";
import {
  freePort,
  installExtension,
  openWorkbench,
  startCodeServer,
  type Dirs,
  type RunningCodeServer,
} from "./codeServer.ts";
import {
  acceptQuickPick,
  answerInputBox,
  clearNotifications,
  openFile,
  runCommand,
  statusBarItem,
  statusBarText,
  terminalFocus,
  terminalTexts,
  toast,
  waitFor,
} from "./workbench.ts";

const here = path.dirname(new URL(import.meta.url).pathname);
const repo = path.resolve(here, "..", "..", "..");
const artifacts = path.join(repo, "test-artifacts", "e2e");
const SCENARIO_TIMEOUT_MS = 8 * 60_000;
const HELPER_INSTALL_TIMEOUT_MS = 4 * 60_000;
const RUN_LINE = "hello from the runtime";
const RUN_EXIT_CODE = 3;
const OUT_TEXT = "written on the runtime\n";

interface RuntimeAnswer {
  info: { host: string; port: number; username: string; password: string; remote_root: string; host_keys: string[] };
  username: string;
  authorizedKeys: string;
}

const vsix = path.resolve(process.argv[2] ?? path.join(repo, "colablink.vsix"));
const work = path.join(here, ".work");
const dirs: Dirs = {
  work,
  userData: path.join(work, "user-data"),
  extensions: path.join(work, "extensions"),
  workspace: path.join(work, "workspace"),
  chrome: path.join(work, "chrome"),
};
const colablinkConfig = path.join(work, "colablink-config");
const sshConfig = path.join(work, "ssh", "config");
// Where the helper would write without the remote.SSH.configFile setting; must stay absent.
const fallbackSshConfig = path.join(work, "ssh", "fallback-config");
const openFolderLog = path.join(work, "open-folder.jsonl");
// What the Jupyter extension's stand-in was given (jupyter-standin/extension.js).
const jupyterLog = path.join(work, "jupyter-standin.jsonl");
const jupyterStandin = path.join(here, "jupyter-standin", "jupyter-standin.vsix");
const colabHome = path.join(work, "home");
// Connect's default local directory, inside the workspace.
const localOut = path.join(dirs.workspace, "colab_outputs", "out.txt");

const results: { name: string; ok: boolean; detail?: string }[] = [];

async function step(name: string, body: () => Promise<void>): Promise<void> {
  const started = Date.now();
  try {
    await body();
    results.push({ name, ok: true });
    console.log(`ok - ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    results.push({ name, ok: false, detail: String(error) });
    console.log(`not ok - ${name}: ${String(error)}`);
    throw error;
  }
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new Error(message);
  }
}

function prepareDirs(): void {
  fs.rmSync(work, { recursive: true, force: true });
  fs.rmSync(artifacts, { recursive: true, force: true });
  for (const dir of [...Object.values(dirs), colablinkConfig, path.dirname(sshConfig), artifacts]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  for (const sub of ["config", "data", "cache", "tmp", "colablink-run", "home"]) {
    fs.mkdirSync(path.join(work, sub), { recursive: true });
  }
  fs.mkdirSync(path.join(dirs.userData, "User"), { recursive: true });
  fs.writeFileSync(
    path.join(dirs.userData, "User", "settings.json"),
    JSON.stringify(
      {
        "workbench.startupEditor": "none",
        "chat.disableAIFeatures": true,
        "telemetry.telemetryLevel": "off",
        "extensions.autoUpdate": false,
        "extensions.autoCheckUpdates": false,
        "workbench.tips.enabled": false,
        "terminal.integrated.gpuAcceleration": "off",
        "git.enabled": false,
        "workbench.secondarySideBar.defaultVisibility": "hidden",
        // colablink.sshConfigFile is unset, so the Host block follows Remote-SSH's setting.
        "remote.SSH.configFile": sshConfig,
      },
      null,
      2,
    ),
  );
  fs.writeFileSync(
    path.join(dirs.workspace, "hello_colab.py"),
    [
      "import os",
      "import pathlib",
      "import sys",
      "",
      'out = pathlib.Path(os.environ["COLABLINK_OUTPUT_DIR"]) / "out.txt"',
      `out.write_text(${JSON.stringify(OUT_TEXT)})`,
      `print("${RUN_LINE}")`,
      `sys.exit(${RUN_EXIT_CODE})`,
      "",
    ].join("\n"),
  );
}

function writeCrashFile(): void {
  fs.writeFileSync(
    path.join(dirs.workspace, "crash.py"),
    ["def boom():", '    raise RuntimeError("boom")', "", "", "boom()", ""].join("\n"),
  );
}

function writeNotesFile(): void {
  fs.writeFileSync(path.join(dirs.workspace, "notes.txt"), "not a program\n");
}

function writeNotebookFile(): void {
  const cell = { cell_type: "code", execution_count: null, metadata: {}, outputs: [], source: ["print(1)"] };
  const notebook = { cells: [cell], metadata: {}, nbformat: 4, nbformat_minor: 5 };
  fs.writeFileSync(path.join(dirs.workspace, "analysis.ipynb"), JSON.stringify(notebook));
}

function writeCellsFile(): void {
  fs.writeFileSync(
    path.join(dirs.workspace, "cells.py"),
    ["# %%", 'greeting = "one kernel"', 'print("first cell ran")', "", "# %%", 'print("second cell ran in", greeting)', ""].join("\n"),
  );
}

function codeServerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(work, "config"),
    XDG_DATA_HOME: path.join(work, "data"),
    XDG_CACHE_HOME: path.join(work, "cache"),
    TMPDIR: path.join(work, "tmp"),
    COLABLINK_CONFIG_DIR: colablinkConfig,
    COLABLINK_RUNTIME_DIR: path.join(work, "colablink-run"),
    COLABLINK_SSH_CONFIG: fallbackSshConfig,
    COLABLINK_TEST_OPEN_FOLDER_LOG: openFolderLog,
    COLABLINK_TEST_JUPYTER_LOG: jupyterLog,
    // Google's colab client reads its sign-in and sessions here: the stand-in's, never the user's.
    HOME: colabHome,
  };
  // The helper venv's packages come from PyPI; a persistent download cache keeps reruns quick.
  env.PIP_CACHE_DIR = process.env.PIP_CACHE_DIR ?? path.join(here, ".cache", "pip");
  delete env.COLABLINK_PYTHON;
  return env;
}

/** Settles once the runtime says its Jupyter server is set up (in the background, as on Colab). */
let jupyterReady: Promise<void> | undefined;

function startRuntime(): Promise<{ proc: ChildProcessWithoutNullStreams; answer: RuntimeAnswer }> {
  const python = fs.existsSync(path.join(repo, ".venv", "bin", "python")) ? path.join(repo, ".venv", "bin", "python") : "python3";
  const proc = spawn(python, [path.join(here, "runtime_main.py")], { cwd: repo });
  proc.stderr.pipe(fs.createWriteStream(path.join(artifacts, "runtime.log"), { flags: "a" }));
  const lines = readline.createInterface({ input: proc.stdout });
  jupyterReady = new Promise((resolve, reject) => {
    lines.on("line", (line) => {
      if (line === "jupyter ready") {
        resolve();
      } else if (line.startsWith("jupyter failed")) {
        reject(new Error(line));
      }
    });
  });
  jupyterReady.catch(() => undefined);
  return new Promise((resolve, reject) => {
    lines.once("line", (line) => resolve({ proc, answer: JSON.parse(line) as RuntimeAnswer }));
    proc.once("exit", (code) => reject(new Error(`the runtime exited with ${code}; see test-artifacts/e2e/runtime.log`)));
  });
}

/** "down" stops the runtime's sshd and ends its sessions; "up" brings it back (same port, keys). */
function controlRuntime(proc: ChildProcessWithoutNullStreams, word: "down" | "up"): Promise<void> {
  return new Promise((resolve) => {
    const lines = readline.createInterface({ input: proc.stdout });
    lines.on("line", (line) => {
      if (line.trim() === word) {
        lines.close();
        resolve();
      }
    });
    proc.stdin.write(`${word}\n`);
  });
}

async function stopRuntime(proc: ChildProcessWithoutNullStreams): Promise<void> {
  if (proc.exitCode !== null) {
    return;
  }
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.stdin.end();
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
}

function readIfExists(file: string): string | undefined {
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
}

function listFiles(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).map(String) : [];
}

/** Processes whose command line mentions the scratch folder: the helper and code-server's children. */
function processesUnder(dir: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) {
      continue;
    }
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmdline.includes(dir)) {
        found.push(Number(entry));
      }
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** The ColabLink output channel's log file in the VS Code profile, as written so far. */
function colabLinkLog(): string {
  const logs = path.join(dirs.userData, "logs");
  // A window reload starts a new extension host and so a new file: oldest first.
  const files = listFiles(logs)
    .filter((f) => f.endsWith(path.join("colablink.colablink", "ColabLink.log")))
    .map((f) => path.join(logs, f))
    .sort((a, b) => fs.statSync(a).birthtimeMs - fs.statSync(b).birthtimeMs);
  return files.map((f) => fs.readFileSync(f, "utf8")).join("");
}

// A helper record as its stderr formats it ("2026-01-01 12:00:00,123 INFO colablink.x: ..."); the
// channel gets every record through window/logMessage, so this shape only belongs in a crash report.
const STDERR_RECORD = /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ colablink\./;
const CRASH_HEADLINE = "The helper was killed by SIGKILL; its last ";

function connectionJson(info: RuntimeAnswer["info"], password: string): string {
  return JSON.stringify({ ...info, password });
}

const CONNECT_PICK = "Paste connection info, take a Colab runtime";

async function connectFromPalette(page: Page, json: string): Promise<void> {
  await runCommand(page, "ColabLink: Connect");
  // Paste is the first of Connect's ways in.
  await acceptQuickPick(page, CONNECT_PICK);
  await answerInputBox(page, "Paste the connection JSON", json);
  // The folders are defaults: one Enter on the first row connects.
  await acceptQuickPick(page, "Press Enter to connect with the default output folders");
}

/** The "ColabLink Outputs" pane of the explorer. */
function outputsView(page: Page): Locator {
  return page.locator(".pane", { has: page.locator(".pane-header", { hasText: "ColabLink Outputs" }) });
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`) });
}

async function scenario(): Promise<void> {
  prepareDirs();
  writeCellsFile();
  writeCrashFile();
  writeNotesFile();
  writeNotebookFile();
  const env = codeServerEnv();
  let runtime: ChildProcessWithoutNullStreams | undefined;
  let colabEndpoint: ChildProcessWithoutNullStreams | undefined;
  let server: RunningCodeServer | undefined;
  let page: Page | undefined;
  let closeBrowser: (() => Promise<void>) | undefined;
  try {
    let answer: RuntimeAnswer | undefined;
    await step("start a real local runtime (root mode, tunnel none)", async () => {
      const started = await startRuntime();
      runtime = started.proc;
      answer = started.answer;
    });
    check(answer, "no runtime");
    const info = answer.info;
    const runtimeUser = answer.username;
    // The runtime the later steps reach: replaced by a new machine halfway.
    let current: RuntimeAnswer = answer;

    await step("install the packaged VSIX into code-server", async () => {
      const listed = installExtension(vsix, dirs, env);
      check(/^colablink\.colablink@/m.test(listed), `colablink not in the installed extensions:\n${listed}`);
    });

    await step("start code-server and open the workbench in Chromium", async () => {
      server = await startCodeServer(dirs, env, path.join(artifacts, "code-server.log"));
      const opened = await openWorkbench(dirs, server.port);
      page = opened.page;
      closeBrowser = () => opened.context.close();
    });
    check(page, "no page");
    const p: Page = page;

    await step("the helper installs from the bundled wheel and the status bar says disconnected", async () => {
      const text = await waitFor(
        "the status bar to say disconnected",
        async () => {
          const current = await statusBarText(p).catch(() => "");
          check(!current.includes("helper failed"), `the helper failed: ${current}`);
          return current.includes("disconnected") ? current : undefined;
        },
        HELPER_INSTALL_TIMEOUT_MS,
      );
      check(text.includes("Colab · disconnected"), `status bar: ${text}`);
      const venvs = listFiles(path.join(dirs.userData, "User", "globalStorage")).filter((f) =>
        f.endsWith(path.join("helper-venv", "colablink-wheel.stamp")),
      );
      check(venvs.length === 1, "the bundled-wheel venv was not created in global storage");
    });

    await step("garbage pasted into Connect is refused in the input box itself", async () => {
      await runCommand(p, "ColabLink: Connect");
      await acceptQuickPick(p, CONNECT_PICK);
      await answerInputBox(p, "Paste the connection JSON", "hello, this is not connection info");
      const message = p.locator(".quick-input-widget .quick-input-message", { hasText: "Connection info is not valid" });
      await message.waitFor({ state: "visible" });
      // Enter did not take it: the box is still open, and nothing was written.
      await p.locator(".quick-input-widget .quick-input-box input").press("Enter");
      await message.waitFor({ state: "visible" });
      await screenshot(p, "connect-garbage-refused");
      await p.keyboard.press("Escape");
      check(listFiles(path.join(colablinkConfig, "profiles")).length === 0, "garbage left a profile");
      check(!(await toast(p, "ColabLink: connecting").isVisible()), "garbage started a connect");
    });

    const authorizedBefore = readIfExists(answer.authorizedKeys);
    await step("Connect with a wrong password: one sentence, Show Logs, nothing left behind", async () => {
      await connectFromPalette(p, connectionJson(info, `${info.password}-wrong`));
      const errorToast = toast(p, "Show Logs");
      await errorToast.waitFor({ state: "visible", timeout: 60_000 });
      const message = (await errorToast.locator(".notification-list-item-message").innerText()).trim();
      check(message.length > 0 && !message.includes("\n"), `not one line: ${JSON.stringify(message)}`);
      check(!/traceback|exception|error in server/i.test(message), `not a user sentence: ${message}`);
      check(/[.!?]$/.test(message), `not a sentence: ${message}`);
      check(await errorToast.locator(".monaco-button", { hasText: "Try Again" }).isVisible(), "no Try Again beside Show Logs");
      await toast(p, "ColabLink: connecting").waitFor({ state: "hidden" });
      await p.waitForTimeout(500); // let the toast's slide-in animation finish for the screenshot
      await screenshot(p, "wrong-password-error");
      await errorToast.locator(".monaco-button", { hasText: "Show Logs" }).click();
      await waitFor("the ColabLink log to show the auth-failed code", async () => {
        const text = await p.locator(".part.panel .view-lines").first().innerText();
        return text.includes("(-32002)") ? text : undefined;
      });
      check(listFiles(path.join(colablinkConfig, "profiles")).length === 0, "a profile was left behind");
      check(listFiles(path.join(colablinkConfig, "keys")).length === 0, "a key was left behind");
      for (const file of [sshConfig, fallbackSshConfig]) {
        check(!(readIfExists(file) ?? "").includes("colablink-"), "an ssh config block was left behind");
      }
      check(!(readIfExists(path.join(colablinkConfig, "known_hosts")) ?? "").trim(), "a known_hosts line was left behind");
      check(readIfExists(answer?.authorizedKeys ?? "") === authorizedBefore, "the runtime's authorized_keys changed");
      check((await statusBarText(p)).includes("disconnected"), "the status bar left the disconnected state");
      await clearNotifications(p);
    });

    let profile = "";
    await step("Connect from the palette with the runtime's JSON: status bar shows connected", async () => {
      await connectFromPalette(p, connectionJson(info, info.password));
      const text = await waitFor(
        "the status bar to say connected",
        async () => {
          const current = await statusBarText(p);
          check(!current.includes("error"), `status bar: ${current}`);
          return current.includes("Colab · CPU") ? current : undefined;
        },
        60_000,
      );
      check(text === "Colab · CPU", `status bar: ${text}`);
      for (const stepName of [`reaching ${info.host}:${info.port} and checking its host key`, "installing this machine's key", "writing the ssh config"]) {
        check(colabLinkLog().includes(`Connect: ${stepName}`), `the log lacks the connect step "${stepName}"`);
      }
      await statusBarItem(p).screenshot({ path: path.join(artifacts, "connected-status-bar-item.png") });
      await screenshot(p, "connected-status-bar");
      const profiles = listFiles(path.join(colablinkConfig, "profiles"));
      check(profiles.length === 1, `expected one profile, found ${profiles.join(", ")}`);
      profile = path.parse(profiles[0]).name;
      check((readIfExists(sshConfig) ?? "").includes(`colablink-${profile}`), "no Host block in remote.SSH.configFile");
      check(!fs.existsSync(fallbackSshConfig), "the Host block went elsewhere than remote.SSH.configFile");
      await statusBarItem(p).hover();
      const hover = p.locator(".workbench-hover, .monaco-hover", { hasText: `Host: ${info.host}:${info.port}` }).first();
      await hover.waitFor({ state: "visible" });
      const tooltip = await hover.innerText();
      check(tooltip.includes(`Profile: ${profile}`) && /Latency: \d+ ms/.test(tooltip), `tooltip: ${tooltip}`);
      check(/RAM: [\d.]+ GiB of [\d.]+ GiB used \(\d+%\)/.test(tooltip) && /Disk: [\d.]+ GiB of [\d.]+ GiB used/.test(tooltip), `no resources in the tooltip: ${tooltip}`);
      await screenshot(p, "resources-tooltip");
      await statusBarItem(p).click();
      await p.locator(".quick-input-widget .monaco-list-row", { hasText: "Open Shell on Colab" }).waitFor({ state: "visible" });
      await p.keyboard.press("Escape");
    });

    await step("Open in Remote-SSH opens vscode-remote://ssh-remote+colablink-<profile><remote_root>", async () => {
      fs.writeFileSync(openFolderLog, "");
      await runCommand(p, "ColabLink: Open in Remote-SSH");
      const line = await waitFor("the recorded vscode.openFolder call", async () => readIfExists(openFolderLog)?.trim() || undefined);
      const recorded = JSON.parse(line) as { command: string; uri: string };
      const expected = `vscode-remote://ssh-remote+colablink-${profile}${info.remote_root}`;
      check(recorded.command === "vscode.openFolder", `command: ${recorded.command}`);
      check(recorded.uri === expected, `uri ${recorded.uri} != ${expected}`);
      const ssh = spawnSync(
        "ssh",
        ["-F", sshConfig, "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", `colablink-${profile}`, "pwd"],
        { encoding: "utf8", timeout: 30_000 },
      );
      check(ssh.status === 0, `ssh through the written Host alias failed: ${ssh.stderr}`);
    });

    await step("Open in Remote-SSH without Remote-SSH installed offers to install it", async () => {
      fs.rmSync(openFolderLog, { force: true });
      await runCommand(p, "ColabLink: Open in Remote-SSH");
      const offer = toast(p, "needs the Remote - SSH extension");
      await offer.waitFor({ state: "visible" });
      await offer.locator(".monaco-button", { hasText: "Install Remote - SSH" }).click();
      await p.locator(".extensions-viewlet").waitFor({ state: "visible" });
      await clearNotifications(p);
    });

    await step("Use as Jupyter Kernel without the Jupyter extension offers to install it", async () => {
      await runCommand(p, "ColabLink: Use as Jupyter Kernel");
      const offer = toast(p, "needs the Jupyter extension");
      await offer.waitFor({ state: "visible" });
      await offer.locator(".monaco-button", { hasText: "Install Jupyter" }).click();
      await p.locator(".extensions-viewlet").waitFor({ state: "visible" });
      check(!fs.existsSync(jupyterLog), "a server collection was registered without the Jupyter extension");
      await clearNotifications(p);
    });

    await step("the ColabLink Outputs view shows the profile, still without out.txt", async () => {
      await runCommand(p, "Explorer: Focus on ColabLink Outputs View");
      await outputsView(p).locator(".monaco-list-row", { hasText: profile }).first().waitFor({ state: "visible" });
      check((await outputsView(p).locator(".monaco-list-row", { hasText: "out.txt" }).count()) === 0, "out.txt is there before the run");
    });

    await step("click the Run on Colab lens: the line and the exit code reach the terminal", async () => {
      await openFile(p, "hello_colab.py");
      const lens = p.locator(".codelens-decoration a", { hasText: "Run on Colab" }).first();
      await lens.waitFor({ state: "visible", timeout: 60_000 });
      await lens.click();
      const text = await waitFor(
        "the run's output and exit code in the terminal",
        async () => {
          const all = (await terminalTexts(p)).join("\n");
          return all.includes(RUN_LINE) && all.includes(`exit code ${RUN_EXIT_CODE}`) ? all : undefined;
        },
        60_000,
      );
      check(text.indexOf(RUN_LINE) < text.indexOf(`exit code ${RUN_EXIT_CODE}`), "the exit code came before the output");
      await screenshot(p, "run-terminal");
    });

    await step("Run cell on Colab runs each # %% cell alone, in one kernel for the file", async () => {
      await openFile(p, "cells.py");
      const lenses = p.locator(".codelens-decoration a", { hasText: "Run cell on Colab" });
      await waitFor("two cell lenses", async () => (await lenses.count()) === 2 || undefined);
      check(jupyterReady, "no runtime");
      await jupyterReady;
      const cellTerminal = async (): Promise<string> => (await terminalTexts(p)).find((t) => t.includes("in the file's kernel")) ?? "";
      await lenses.nth(0).click();
      await waitFor("the first cell's exit code", async () => (await cellTerminal()).includes("exit code 0") || undefined, 60_000);
      await lenses.nth(1).click();
      const text = await waitFor("the second cell's output", async () => {
        const now = await cellTerminal();
        return now.includes("second cell ran in one kernel") && now.split("exit code 0").length === 3 ? now : undefined;
      });
      check(text.split("first cell ran").length === 2, `the second cell ran the first again: ${text}`);
      await screenshot(p, "cells-one-kernel");
    });

    await step("Run Current File on a file that is not Python says what it would run, and runs nothing", async () => {
      await openFile(p, "notes.txt");
      const terminalsBefore = (await terminalTexts(p)).length;
      await runCommand(p, "ColabLink: Run Current File on Colab");
      const refusal = toast(p, "notes.txt is not a Python file");
      await refusal.waitFor({ state: "visible" });
      check((await refusal.innerText()).includes("would run “python3 notes.txt”"), "the refusal does not say what it would run");
      check((await terminalTexts(p)).length === terminalsBefore, "a terminal opened for a file that is not Python");
      await clearNotifications(p);
    });

    await step("Run Current File in a notebook editor says ColabLink runs Python files, and runs nothing", async () => {
      await openFile(p, "analysis.ipynb");
      await p.locator(".notebook-editor").first().waitFor({ state: "visible" });
      const terminalsBefore = (await terminalTexts(p)).length;
      await runCommand(p, "ColabLink: Run Current File on Colab");
      const refusal = toast(p, "analysis.ipynb is a notebook");
      await refusal.waitFor({ state: "visible" });
      check((await refusal.innerText()).includes("ColabLink runs Python files"), "the notebook refusal does not say why");
      check((await terminalTexts(p)).length === terminalsBefore, "a terminal opened for a notebook");
      await screenshot(p, "notebook-refused");
      await clearNotifications(p);
      await runCommand(p, "View: Close Editor");
    });

    await step("a settings change reaches the helper: colablink.codeLens false hides the lenses", async () => {
      // As a person would: edit the user settings.json in the editor and save it.
      await runCommand(p, "Preferences: Open User Settings (JSON)");
      // It opens as a modal editor in this VS Code; its first key line shows when it is ready.
      await p.locator(".view-line", { hasText: "workbench.startupEditor" }).waitFor({ state: "visible" });
      await p.keyboard.press("Control+Home");
      await p.keyboard.press("End");
      await p.keyboard.press("Enter");
      await p.keyboard.insertText('"colablink.codeLens": false,');
      await p.keyboard.press("Control+S");
      await waitFor("the settings to be saved", async () =>
        fs.readFileSync(path.join(dirs.userData, "User", "settings.json"), "utf8").includes('"colablink.codeLens": false') || undefined,
      );
      await p.keyboard.press("Escape");
      await p.locator(".tabs-container .tab", { hasText: "cells.py" }).click();
      await p.locator(".editor-instance .view-line").last().click();
      await p.keyboard.press("End");
      await p.keyboard.type(" "); // an edit makes VS Code ask the helper for lenses again
      const lenses = p.locator(".codelens-decoration a", { hasText: "on Colab" });
      await waitFor("the lenses to go", async () => (await lenses.count()) === 0 || undefined, 15_000);
    });

    await step("out.txt appears in the open ColabLink Outputs tree, pushed by outputsChanged", async () => {
      const row = outputsView(p).locator(".monaco-list-row", { hasText: "out.txt" }).first();
      await row.waitFor({ state: "visible", timeout: 60_000 });
      check(readIfExists(localOut) === OUT_TEXT, `${localOut} does not hold what the run wrote`);
      await screenshot(p, "outputs-tree");
    });

    await step("Download Again from the tree's context menu fetches the file anew", async () => {
      fs.writeFileSync(localOut, "stale\n");
      await outputsView(p).locator(".monaco-list-row", { hasText: "out.txt" }).first().click({ button: "right" });
      // Point at the menu item and press Enter: a click can land while the menu is still opening.
      const item = p.locator(".context-view .action-menu-item", { hasText: "Download Again" }).first();
      await item.waitFor({ state: "visible" });
      await item.hover();
      await p.keyboard.press("Enter");
      await p.locator(".statusbar", { hasText: "ColabLink: downloaded" }).waitFor({ state: "visible" });
      check(readIfExists(localOut) === OUT_TEXT, "out.txt was not downloaded again");
    });

    await step("Sync Now reports what it moved", async () => {
      await runCommand(p, "ColabLink: Sync Now");
      await p.locator(".statusbar", { hasText: /ColabLink: synced, \d+ up, \d+ down/ }).waitFor({ state: "visible" });
    });

    await step("Forward Port makes a runtime port reachable on localhost", async () => {
      const remotePort = await freePort();
      await runCommand(p, "ColabLink: Run Command on Colab…");
      await answerInputBox(p, "Command line to run on the runtime", `python3 -m http.server ${remotePort} --bind 127.0.0.1`);
      await waitFor("the remote web server to listen", async () => {
        const texts = await terminalTexts(p);
        return (texts[texts.length - 1] ?? "").includes(`port ${remotePort}`) || undefined;
      });
      await runCommand(p, "ColabLink: Forward Port…");
      await answerInputBox(p, "Port on the runtime to reach from this machine", String(remotePort));
      const note = toast(p, `Runtime port ${remotePort} is now localhost:`);
      await note.waitFor({ state: "visible" });
      const noteText = await note.innerText();
      const localPort = Number(/localhost:(\d+)/.exec(noteText)?.[1]);
      // Runtime and editor share this machine, so the same port is taken here: it says so.
      check(localPort !== remotePort && noteText.includes(`port ${remotePort} is taken on this machine`), `note: ${noteText}`);
      const response = await fetch(`http://127.0.0.1:${localPort}/`);
      check(response.status === 200 && (await response.text()).includes("Directory listing"), "no page through the forward");
      await clearNotifications(p);
      // A port free on this machine is forwarded on the same local port, as Remote-SSH does.
      const samePort = await freePort();
      await runCommand(p, "ColabLink: Forward Port…");
      await answerInputBox(p, "Port on the runtime to reach from this machine", String(samePort));
      await toast(p, `Runtime port ${samePort} is now localhost:${samePort}.`).waitFor({ state: "visible" });
      await clearNotifications(p);
      await terminalFocus(p);
      await p.keyboard.press("Control+C");
      await waitFor("the web server to stop", async () => {
        const texts = await terminalTexts(p);
        return (texts[texts.length - 1] ?? "").includes("ColabLink: interrupted") || undefined;
      });
    });

    await step("a web server started on the runtime is offered, forwarded on its own port, listed in Ports, stopped", async () => {
      await clearNotifications(p);
      // Runtime and editor share this machine: the server takes 127.0.0.2 (a loopback address the
      // runtime's user can bind), so 127.0.0.1 keeps that port number free for the forward.
      const port = await freePort();
      await runCommand(p, "ColabLink: Run Command on Colab…");
      await answerInputBox(p, "Command line to run on the runtime", `python3 -m http.server ${port} --bind 127.0.0.2`);
      const offer = toast(p, `Port ${port} (python3) is listening on the runtime.`);
      await offer.waitFor({ state: "visible", timeout: 20_000 });
      const listeners = (): string => spawnSync("ss", ["-Htln", `sport = :${port}`], { encoding: "utf8" }).stdout;
      check(listeners().includes(`127.0.0.2:${port}`) && !listeners().includes(`127.0.0.1:${port}`), `listeners: ${listeners()}`);
      await p.waitForTimeout(500);
      await screenshot(p, "port-offered");
      await offer.locator(".monaco-button", { hasText: "Forward" }).click();
      await toast(p, `Runtime port ${port} is now localhost:${port}.`).waitFor({ state: "visible" });
      check(listeners().includes(`127.0.0.1:${port}`), `no local forward on 127.0.0.1:${port}: ${listeners()}`);
      const response = await fetch(`http://127.0.0.1:${port}/`);
      check(response.status === 200 && (await response.text()).includes("Directory listing"), "no page on the same local port");
      await runCommand(p, "Explorer: Focus on ColabLink Ports View");
      const row = p.locator(".monaco-list-row", { hasText: `python3 → localhost:${port}` });
      await row.waitFor({ state: "visible" });
      await screenshot(p, "port-forwarded");
      await row.hover();
      await row.locator('.action-label[aria-label="Stop Forwarding"]').click();
      // This server's row, whatever other python3 listens there (the Jupyter server of the cells).
      const unforwarded = p.locator(`.monaco-list-row[aria-label*="127.0.0.2:${port} "]`, { hasText: "python3 not forwarded" });
      await unforwarded.waitFor({ state: "visible" });
      await waitFor("the local forward to close", async () => !listeners().includes(`127.0.0.1:${port}`) || undefined);
      await clearNotifications(p);
      await terminalFocus(p);
      await p.keyboard.press("Control+C");
      await unforwarded.waitFor({ state: "detached", timeout: 20_000 });
    });

    await step("Open Shell on Colab runs pwd and shows the source root", async () => {
      const before = (await terminalTexts(p)).length;
      await runCommand(p, "ColabLink: Open Shell on Colab");
      await waitFor("a new terminal", async () => (await terminalTexts(p)).length > before || undefined);
      await waitFor("the shell prompt", async () => {
        const texts = await terminalTexts(p);
        return texts[texts.length - 1]?.trim() ? true : undefined;
      });
      // The new terminal has the keyboard focus, as it would for a person.
      await p.keyboard.type("pwd");
      await p.keyboard.press("Enter");
      await waitFor(`a line saying ${info.remote_root}`, async () => {
        const texts = await terminalTexts(p);
        const lines = (texts[texts.length - 1] ?? "").split("\n").map((l) => l.trim());
        return lines.includes(info.remote_root) || undefined;
      });
      await screenshot(p, "shell-pwd");
    });

    await step("Ctrl+C in a run's terminal interrupts the remote process", async () => {
      const remoteSleeps = (): string =>
        spawnSync("pgrep", ["-u", runtimeUser, "-x", "sleep"], { encoding: "utf8" }).stdout.trim();
      check(remoteSleeps() === "", "a remote sleep was already running");
      const terminalsBefore = (await terminalTexts(p)).length;
      await runCommand(p, "ColabLink: Run Command on Colab…");
      await answerInputBox(p, "Command line to run on the runtime", "sleep 100");
      // The finished web server's terminal takes this run: no new terminal piles up.
      await p.locator(".terminal .xterm-rows", { hasText: "$ sleep 100" }).first().waitFor({ state: "attached" });
      check((await terminalTexts(p)).length === terminalsBefore, "a new terminal opened instead of reusing the idle one");
      await waitFor("the remote sleep to start", async () => remoteSleeps() || undefined);
      await terminalFocus(p);
      await p.keyboard.press("Control+C");
      await waitFor("the terminal to say interrupted", async () => {
        const text = (await terminalTexts(p)).find((t) => t.includes("$ sleep 100")) ?? "";
        return text.slice(text.lastIndexOf("$ sleep 100")).includes("ColabLink: interrupted") || undefined;
      });
      await waitFor("the remote sleep to be gone", async () => remoteSleeps() === "" || undefined, 5_000);
    });

    await step("a traceback path in a run terminal is a link to the local file at that line", async () => {
      await runCommand(p, "ColabLink: Run Command on Colab…");
      await answerInputBox(p, "Command line to run on the runtime", "python3 crash.py");
      const wanted = 'crash.py", line 2';
      await waitFor("the traceback", async () => {
        const all = (await terminalTexts(p)).join("\n");
        return (all.includes(wanted) && all.includes("exit code 1")) || undefined;
      });
      // Ctrl+click on the path, as a person would: the screen point of the path's third character.
      const row = p.locator(".terminal .xterm-rows > div:visible", { hasText: wanted }).last();
      const point = await row.evaluate((el, needle) => {
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          const at = (node.textContent ?? "").indexOf(needle);
          if (at >= 0) {
            const range = document.createRange();
            range.setStart(node, at + 2);
            range.setEnd(node, at + 3);
            const rect = range.getBoundingClientRect();
            return { x: rect.x + rect.width / 2, y: rect.y + rect.height / 2 };
          }
        }
        return null;
      }, info.remote_root);
      check(point, "the path is not on the terminal row");
      const { x, y } = point;
      await p.mouse.move(x, y);
      await p.keyboard.down("Control");
      await p.mouse.move(x + 1, y);
      await screenshot(p, "traceback-link");
      await p.mouse.click(x + 1, y);
      await p.keyboard.up("Control");
      await p.locator(".tabs-container .tab.active", { hasText: "crash.py" }).waitFor({ state: "visible" });
      // The workspace's file: its breadcrumbs start at the file, not at the runtime's root.
      const crumbs = (await p.locator(".breadcrumbs-control").first().innerText()).trim();
      check(crumbs.startsWith("crash.py"), `not the workspace file: breadcrumbs ${JSON.stringify(crumbs)}`);
      await p.locator(".statusbar-item", { hasText: /Ln 2, Col 1/ }).waitFor({ state: "visible" });
      await screenshot(p, "traceback-link-opened");
    });

    await step("a run started while the runtime's sshd is down waits in its terminal, then starts when it is back", async () => {
      check(runtime, "no runtime");
      await clearNotifications(p);
      await controlRuntime(runtime, "down");
      await waitFor("the status bar to say reconnecting", async () => (await statusBarText(p)).includes("reconnecting") || undefined);
      await openFile(p, "hello_colab.py");
      const started = Date.now();
      await runCommand(p, "ColabLink: Run Current File on Colab");
      const waiting = "ColabLink: waiting for the runtime… (Ctrl+C or close this terminal to cancel)";
      await waitFor("the waiting line in the run's terminal", async () => (await terminalTexts(p)).some((t) => t.includes(waiting)) || undefined, 10_000);
      check(Date.now() - started < 5_000, "the run's terminal took more than 5 s to say it waits");
      await screenshot(p, "run-waiting-for-runtime");
      await controlRuntime(runtime, "up");
      const text = await waitFor(
        "the run to start once the runtime is back",
        async () => {
          const found = (await terminalTexts(p)).find((t) => t.includes(waiting)) ?? "";
          const after = found.slice(found.lastIndexOf(waiting));
          return after.includes("ColabLink: the runtime is back; starting the run.") && after.includes(`exit code ${RUN_EXIT_CODE}`) ? after : undefined;
        },
        60_000,
      );
      check(text.indexOf("the runtime is back") < text.indexOf(RUN_LINE), `the run started before the runtime was back:\n${text}`);
      await screenshot(p, "run-started-after-runtime-returned");
      await waitFor("the status bar to say connected", async () => (await statusBarText(p)) === "Colab · CPU" || undefined);
      check(colabLinkLog().includes(`${profile}: back on ${info.host}:${info.port} after `), "the log does not tell the recovery");
      await clearNotifications(p);
    });

    await step("a runtime replaced by a new machine: one 'restarted?' notification, then Paste New Connection Info", async () => {
      check(runtime, "no runtime");
      await clearNotifications(p);
      await stopRuntime(runtime);
      const replaced = await startRuntime();
      runtime = replaced.proc;
      const fresh = replaced.answer.info;
      current = replaced.answer;
      check(JSON.stringify(fresh.host_keys) !== JSON.stringify(info.host_keys), "the new runtime kept the old host keys");
      const hint = toast(p, "may have been restarted");
      await hint.waitFor({ state: "visible", timeout: 60_000 });
      for (const action of ["Reconnect Now", "Paste New Connection Info"]) {
        check(await hint.locator("a", { hasText: action }).isVisible(), `no ${action} link`);
      }
      await statusBarItem(p).hover();
      const tooltip = await p.locator(".workbench-hover, .monaco-hover", { hasText: "Latency:" }).first().innerText();
      check(tooltip.includes("Latency: — (not reachable now)"), `a stale latency while down: ${tooltip}`);
      await p.mouse.move(400, 300);
      await p.waitForTimeout(500);
      await screenshot(p, "runtime-restarted-notification");
      const story = colabLinkLog();
      check(story.includes(`${profile}: the link to ${info.host}:${info.port} dropped`), "the log does not tell the drop");
      check(story.includes(`${profile}: try 2 to reach ${info.host}:${info.port} failed`), "the log does not tell each failed try");
      check((await p.locator(".notifications-toasts .notification-toast", { hasText: "may have been restarted" }).count()) === 1, "asked more than once");
      await hint.locator("a", { hasText: "Paste New Connection Info" }).click();
      await answerInputBox(p, "Paste the connection JSON", connectionJson(fresh, fresh.password));
      await waitFor("the status bar to say connected to the new runtime", async () => {
        const current = await statusBarText(p);
        return current === "Colab · CPU" || undefined;
      }, 60_000);
      // The question ended with the outage: no stale notification is left behind.
      await hint.waitFor({ state: "hidden", timeout: 15_000 });
      await waitFor("the log to tell the connect to the new runtime", async () =>
        colabLinkLog().includes(`${profile}: connected to ${fresh.host}:${fresh.port}`) || undefined,
      );
      await clearNotifications(p);
    });

    await step("Disconnect returns the status bar to disconnected", async () => {
      const before = (await terminalTexts(p)).length;
      await runCommand(p, "ColabLink: Open Shell on Colab");
      await waitFor("a new shell with its prompt", async () => {
        const texts = await terminalTexts(p);
        return (texts.length > before && texts[texts.length - 1]?.trim()) || undefined;
      });
      await runCommand(p, "ColabLink: Disconnect");
      await waitFor("the status bar to say disconnected", async () =>
        (await statusBarText(p)).includes("Colab · disconnected") || undefined,
      );
      // The open shell ends with ColabLink's own line, not VS Code's "terminated with exit code".
      const text = await waitFor("the shell's ColabLink line", async () =>
        (await terminalTexts(p)).find((t) => t.includes("ColabLink: the connection to the runtime closed, so this shell ended.")),
      );
      check(!/terminated with exit code/.test(text), `VS Code's exit line in the shell: ${text}`);
      await screenshot(p, "shell-after-disconnect");
    });

    await step("a killed helper leaves its stderr tail in the log, and Restart Helper brings it back", async () => {
      const helpers = processesUnder(work).filter((pid) =>
        readIfExists(`/proc/${pid}/cmdline`)?.replace(/\0/g, " ").includes("-m colablink.helper"),
      );
      check(helpers.length === 1, `expected one helper process, found ${helpers.join(", ") || "none"}`);
      process.kill(helpers[0], "SIGKILL");
      await waitFor("the status bar to say the helper failed", async () =>
        (await statusBarText(p)).includes("helper failed") || undefined,
      );
      const report = await waitFor("the crash report in the ColabLink log", async () => {
        const text = colabLinkLog();
        const at = text.indexOf(CRASH_HEADLINE);
        return at >= 0 && STDERR_RECORD.test(text.slice(at)) ? text.slice(at) : undefined;
      });
      check(/INFO colablink\.helper\.hub: Connected profile /.test(report), "the stderr tail lacks the helper's earlier records");
      await clearNotifications(p);
      await runCommand(p, "ColabLink: Restart Helper");
      await waitFor("the restarted helper in the log", async () => {
        const text = colabLinkLog();
        return text.slice(text.indexOf(CRASH_HEADLINE)).includes("Helper started with") || undefined;
      });
      await waitFor("the status bar to say disconnected", async () =>
        (await statusBarText(p)).includes("Colab · disconnected") || undefined,
      );
    });

    await step("after a window reload the window connects the profile it held again, without Connect", async () => {
      await runCommand(p, "ColabLink: Connect");
      await p.locator(".quick-input-widget .monaco-list-row", { hasText: profile }).first().click();
      await waitFor("the status bar to say connected", async () => (await statusBarText(p)) === "Colab · CPU" || undefined, 60_000);
      // A run in progress when the window reloads: it goes on, and the Runs view finds it after.
      const ticks = "for i in $(seq 1 400); do echo tick $i; sleep 0.5; done";
      await runCommand(p, "ColabLink: Run Command on Colab…");
      await answerInputBox(p, "Command line to run on the runtime", ticks);
      await waitFor("the run's first ticks", async () => (await terminalTexts(p)).join("\n").includes("tick 2") || undefined);
      // VS Code writes workspace state after a short delay; a person does not reload within it.
      await p.waitForTimeout(2_000);
      // The Jupyter extension's stand-in arrives with this reload, for the kernel picker's step.
      installExtension(jupyterStandin, dirs, env);
      await p.reload();
      await p.locator(".monaco-workbench").waitFor({ timeout: 90_000 });
      await waitFor("the status bar to say connected after the reload", async () => (await statusBarText(p).catch(() => "")) === "Colab · CPU" || undefined, 90_000);
      check(colabLinkLog().includes(`${profile}: this window held it before; connecting again.`), "the log does not say why it connected");
      await screenshot(p, "reconnected-after-reload");
    });

    await step("the Runs view lists the run still going after the reload; a click shows its output so far, then live", async () => {
      await runCommand(p, "Explorer: Focus on ColabLink Runs View");
      const pane = p.locator(".pane", { has: p.locator(".pane-header", { hasText: "ColabLink Runs" }) });
      const row = pane.locator(".monaco-list-row", { hasText: "tick" }).filter({ hasText: "running" }).first();
      await row.waitFor({ state: "visible", timeout: 30_000 });
      await screenshot(p, "runs-view-after-reload");
      await row.click();
      // Only the rows in view are in the DOM, and the run printed more than a screenful before
      // the attach: the terminal is told by its ticks (the pre-reload one went with the reload).
      const attachedText = async (): Promise<string> => (await terminalTexts(p)).find((t) => /^tick \d+$/m.test(t)) ?? "";
      const ticks = async (): Promise<number[]> => [...(await attachedText()).matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));
      const seen = async (needle: RegExp): Promise<true | undefined> => needle.test(await attachedText()) || undefined;
      // The output so far: a screenful of earlier ticks at once, in order, not only the newest.
      const first = await waitFor("the output so far in the attached terminal", async () => {
        const now = await ticks();
        return now.length >= 5 ? now : undefined;
      });
      check(first.every((n, i) => i === 0 || n === first[i - 1] + 1), `ticks out of order or repeated: ${first.join(",")}`);
      const before = Math.max(...first);
      check(before >= 10, `the attach showed only the newest ticks (${first.join(",")}), not the output so far`);
      await waitFor("live ticks after the attach", async () => Math.max(0, ...(await ticks())) > before + 2 || undefined);
      await screenshot(p, "run-attached");
      // Ctrl+C there interrupts the run, as in any run terminal.
      await terminalFocus(p);
      await p.keyboard.press("Control+C");
      await waitFor("the attached terminal to say interrupted", () => seen(/ColabLink: interrupted/));
      await waitFor("the Runs view to show the run ended", async () => (await pane.locator(".monaco-list-row", { hasText: /exit code 1\d\d/ }).count()) > 0 || undefined, 20_000);
    });

    await step("with the Jupyter extension's API there, a notebook brings ColabLink: <profile> to its kernel picker", async () => {
      await openFile(p, "analysis.ipynb");
      type Recorded = { id: string; label: string; servers: { id: string; label: string }[]; commandProvider: boolean };
      const recorded = (): Recorded[] =>
        (readIfExists(jupyterLog) ?? "").split("\n").filter(Boolean).map((line) => JSON.parse(line) as Recorded);
      const entry = await waitFor("the stand-in to list the profile's server", async () =>
        recorded().find((e) => e.servers.some((s) => s.id === `colablink:${profile}` && s.label === `ColabLink: ${profile}`)),
      );
      check(entry.id === "colablink" && entry.label === "ColabLink", `collection: ${JSON.stringify(entry)}`);
      check(entry.commandProvider, "no command provider on the collection");
      check(new Set(recorded().map((e) => e.id)).size === 1, "more than one collection was registered");
      await runCommand(p, "View: Close Editor");
    });

    await step("Connect's Colab option: a session of the Google account through the stand-in, then Stop Runtime", async () => {
      const python = fs.existsSync(path.join(repo, ".venv", "bin", "python")) ? path.join(repo, ".venv", "bin", "python") : "python3";
      const bin = path.join(work, "colab-bin");
      colabEndpoint = spawn(python, [path.join(here, "colab_main.py"), String(current.info.port), current.authorizedKeys, colabHome, bin]);
      colabEndpoint.stderr.pipe(fs.createWriteStream(path.join(artifacts, "colab-endpoint.log"), { flags: "a" }));
      const started = colabEndpoint;
      const standin = await new Promise<{ cli: string; calls: string }>((resolve, reject) => {
        readline.createInterface({ input: started.stdout }).once("line", (line) => resolve(JSON.parse(line) as { cli: string; calls: string }));
        started.once("exit", (code) => reject(new Error(`the Colab stand-in exited with ${code}; see colab-endpoint.log`)));
      });
      // The runtime behind the stand-in logs in as its own user, under its own root (Colab's: root,
      // /content). Set as a person would, in the settings editor: VS Code may not notice the file
      // changing underneath it.
      const colabSettings = {
        "colablink.colab.cliPath": standin.cli,
        "colablink.colab.username": current.username,
        "colablink.colab.remoteRoot": current.info.remote_root,
      };
      await runCommand(p, "Preferences: Open User Settings (JSON)");
      await p.locator(".view-line", { hasText: "workbench.startupEditor" }).waitFor({ state: "visible" });
      await p.keyboard.press("Control+Home");
      await p.keyboard.press("End");
      await p.keyboard.press("Enter");
      await p.keyboard.insertText(`${JSON.stringify(colabSettings).slice(1, -1)},`);
      await p.keyboard.press("Control+S");
      await waitFor("the Colab settings to be saved", async () =>
        fs.readFileSync(path.join(dirs.userData, "User", "settings.json"), "utf8").includes(standin.cli) || undefined,
      );
      await p.keyboard.press("Escape");
      await runCommand(p, "ColabLink: Connect");
      await p.locator(".quick-input-widget .monaco-list-row", { hasText: "Colab runtime (Google account)" }).first().click();
      const session = p.locator(".quick-input-widget .monaco-list-row", { hasText: "existing session" }).first();
      await session.waitFor({ state: "visible", timeout: 30_000 });
      check((await p.locator(".quick-input-widget .monaco-list-row", { hasText: "New T4 runtime" }).count()) === 1, "no New T4 runtime choice");
      await screenshot(p, "colab-sessions");
      await session.click();
      await acceptQuickPick(p, "Press Enter to connect with the default output folders");
      const text = await waitFor("the status bar to show the Colab runtime and its compute units", async () => {
        const now = await statusBarText(p);
        return now === "Colab · CPU · 12.5 CU" ? now : undefined;
      }, 90_000);
      check(colabLinkLog().includes("Connect: reaching Colab session t and pinning its host key"), "the log lacks the Colab connect step");
      await statusBarItem(p).hover();
      const hover = p.locator(".workbench-hover, .monaco-hover", { hasText: "Colab session: t" }).first();
      await hover.waitFor({ state: "visible" });
      check((await hover.innerText()).includes("Compute units: 12.50 left, using 1.76/h"), "no compute units in the tooltip");
      await screenshot(p, `colab-connected ${text.replace(/\W+/g, "-")}`);
      await p.mouse.move(400, 300);
      // The window holds the channel's one connection: OpenSSH rides it (a second dial would get 429).
      const ssh = spawnSync("ssh", ["-F", sshConfig, "-o", "BatchMode=yes", "-o", "ConnectTimeout=20", `colablink-${profile}`, "echo through"], {
        encoding: "utf8",
        timeout: 60_000,
        // Were the window's connection not taken, the client must still find only the stand-in.
        env: { ...process.env, HOME: colabHome },
      });
      check(ssh.status === 0 && ssh.stdout.trim() === "through", `ssh through the Colab channel failed: ${ssh.stderr}`);
      await statusBarItem(p).click();
      await p.locator(".quick-input-widget .monaco-list-row", { hasText: "Stop Runtime" }).first().click();
      await toast(p, "stopped Colab session t").waitFor({ state: "visible", timeout: 60_000 });
      await waitFor("the status bar to say disconnected", async () => (await statusBarText(p)).includes("Colab · disconnected") || undefined);
      const calls = fs.readFileSync(standin.calls, "utf8").split("\n");
      check(calls.includes("stop -s t"), `colab stop was not called: ${calls.join(" | ")}`);
      await screenshot(p, "colab-stopped");
    });
  } catch (error) {
    if (page) {
      await screenshot(page, "failure").catch(() => undefined);
    }
    throw error;
  } finally {
    await closeBrowser?.().catch(() => undefined);
    await server?.stop();
    if (fs.existsSync(path.join(dirs.userData, "logs"))) {
      fs.cpSync(path.join(dirs.userData, "logs"), path.join(artifacts, "vscode-logs"), { recursive: true, force: true });
    }
    colabEndpoint?.stdin.end();
    if (runtime) {
      await stopRuntime(runtime);
    }
  }
  await step("the ColabLink log has each helper record once; stderr only in the crash report", async () => {
    const text = colabLinkLog();
    const crash = text.indexOf(CRASH_HEADLINE);
    check(crash >= 0, "no crash report in the ColabLink log");
    const healthy = text.slice(0, crash).split("\n");
    const connected = healthy.filter((line) => /Connected profile \S+ \(/.test(line));
    // Two connects happened (from the palette, and to the replaced runtime): each record once.
    check(connected.length === 2, `the connect records show ${connected.length} times:\n${connected.join("\n")}`);
    const copies = healthy.filter((line) => STDERR_RECORD.test(line));
    check(copies.length === 0, `stderr copies in the log:\n${copies.join("\n")}`);
    const afterCrash = text.slice(crash);
    const restarted = afterCrash.indexOf("Helper started with");
    check(restarted >= 0, "no restart after the crash report");
    const afterRestart = afterCrash.slice(restarted);
    check(!STDERR_RECORD.test(afterRestart), "stderr reached the log after the restart");
    check(!/The helper (exited|was killed|could not be launched)/.test(afterRestart), "a normal stop was reported as a crash");
  });

  await step("no process of the run is left (helper, extension host)", async () => {
    const left = await waitFor("the helper to exit", async () => {
      const pids = processesUnder(work);
      return pids.length === 0 ? [] : undefined;
    }, 10_000).catch(() => processesUnder(work));
    for (const pid of left) {
      process.kill(pid, "SIGKILL");
    }
    check(left.length === 0, `still running: ${left.join(", ")}`);
  });
}

const watchdog = setTimeout(() => {
  console.log(`not ok - the scenario took longer than ${SCENARIO_TIMEOUT_MS / 60_000} minutes`);
  process.exit(1);
}, SCENARIO_TIMEOUT_MS);

scenario()
  .catch(() => undefined)
  .finally(() => {
    clearTimeout(watchdog);
    const passed = results.filter((r) => r.ok).length;
    const failed = results.length - passed;
    if (failed === 0) {
      // The scratch folder (VS Code profile, helper venv) only matters when something failed.
      fs.rmSync(work, { recursive: true, force: true });
    }
    console.log(`e2e: ${passed} passed, ${failed} failed`);
    process.exit(failed === 0 && passed > 0 ? 0 : 1);
  });
