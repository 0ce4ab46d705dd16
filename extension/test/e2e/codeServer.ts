// Starts and stops a real VS Code (code-server from npm) and the Chromium that drives it.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

const here = path.dirname(new URL(import.meta.url).pathname);
const CODE_SERVER = path.join(here, "node_modules", ".bin", "code-server");

export interface Dirs {
  work: string;
  userData: string;
  extensions: string;
  workspace: string;
  chrome: string;
}

export function installExtension(vsix: string, dirs: Dirs, env: NodeJS.ProcessEnv): string {
  execFileSync(
    CODE_SERVER,
    ["--install-extension", vsix, "--extensions-dir", dirs.extensions, "--user-data-dir", dirs.userData],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  return execFileSync(CODE_SERVER, ["--list-extensions", "--show-versions", "--extensions-dir", dirs.extensions], {
    env,
    encoding: "utf8",
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export interface RunningCodeServer {
  process: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

/** Runs code-server in its own process group, so stopping it also ends its extension host. */
export async function startCodeServer(dirs: Dirs, env: NodeJS.ProcessEnv, logFile: string): Promise<RunningCodeServer> {
  const port = await freePort();
  const log = fs.openSync(logFile, "a");
  const child = spawn(
    CODE_SERVER,
    [
      "--bind-addr",
      `127.0.0.1:${port}`,
      "--auth",
      "none",
      "--disable-telemetry",
      "--disable-update-check",
      "--disable-workspace-trust",
      "--disable-getting-started-override",
      "--reconnection-grace-time",
      "5",
      "--user-data-dir",
      dirs.userData,
      "--extensions-dir",
      dirs.extensions,
      dirs.workspace,
    ],
    { env, detached: true, stdio: ["ignore", log, log] },
  );
  const stop = async (): Promise<void> => {
    if (child.pid === undefined || child.exitCode !== null) {
      return;
    }
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    signalGroup(child.pid, "SIGTERM");
    const timer = new Promise<void>((resolve) => setTimeout(resolve, 5000));
    await Promise.race([exited, timer]);
    signalGroup(child.pid, "SIGKILL");
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`code-server exited with ${child.exitCode}; see ${logFile}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (response.ok) {
        return { process: child, port, stop };
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await stop();
  throw new Error(`code-server did not answer /healthz within 60 s; see ${logFile}`);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

export async function openWorkbench(dirs: Dirs, port: number): Promise<{ context: BrowserContext; page: Page }> {
  const context = await chromium.launchPersistentContext(dirs.chrome, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.workspace)}`);
  await page.locator(".monaco-workbench").waitFor({ timeout: 90_000 });
  return { context, page };
}
