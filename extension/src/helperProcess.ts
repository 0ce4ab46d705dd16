// Spawns `python -m colablink.helper` for the language client. Its stderr duplicates the
// window/logMessage stream, so it is only kept as a tail and written to the log when the helper
// dies or fails to start; that is where a traceback ends up.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import type { StreamInfo } from "vscode-languageclient/node";
import { log } from "./logging";
import { crashReport, StderrTail, type HelperExit } from "./stderrTail";

/** How long a helper that ignores SIGTERM gets before SIGKILL. */
const TERM_GRACE_MS = 2000;
/** Stderr may still be draining when the exit is seen; a crash report waits this long for it. */
const STDERR_DRAIN_MS = 500;

export class HelperProcess {
  private readonly tail = new StderrTail();
  private readonly exited: Promise<HelperExit>;
  /** The exit, once stderr is drained. */
  private readonly ended: Promise<HelperExit>;
  private stopping = false;
  private reported = false;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => this.tail.write(chunk));
    const streamsClosed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", (error) => resolve({ launchError: error.message }));
    });
    this.ended = this.exited.then(async (exit) => {
      await Promise.race([streamsClosed, delay(STDERR_DRAIN_MS)]);
      return exit;
    });
    void this.exited.then((exit) => {
      if (!this.stopping) {
        void this.ended.then(() => this.report(exit));
      }
    });
  }

  /** Starts the helper; rejects when the interpreter cannot be run at all (the log says why, too). */
  static launch(python: string, cwd: string | undefined): Promise<HelperProcess> {
    const child = spawn(python, ["-m", "colablink.helper"], {
      cwd,
      env: { ...process.env, PYTHONUNBUFFERED: "1" },
      stdio: "pipe",
    });
    const helper = new HelperProcess(child);
    return new Promise((resolve, reject) => {
      child.once("spawn", () => resolve(helper));
      child.once("error", (error) => reject(new Error(`could not run ${python}: ${error.message}`)));
    });
  }

  /** The transport for the language client; it never sees stderr. */
  get streams(): StreamInfo {
    return { reader: this.child.stdout, writer: this.child.stdin, detached: false };
  }

  /**
   * Waits for the helper to leave on its own, then terminates it. An expected stop (the client
   * asked it to exit) is not reported; otherwise the exit is, whenever it comes.
   */
  async stop(graceMs: number, expected = true): Promise<HelperExit> {
    this.stopping ||= expected;
    if (!(await settlesWithin(this.exited, graceMs))) {
      this.child.kill("SIGTERM");
      if (!(await settlesWithin(this.exited, TERM_GRACE_MS))) {
        log().warn("The helper ignored SIGTERM; killing it.");
        this.child.kill("SIGKILL");
      }
    }
    return this.ended;
  }

  /** Writes the exit and the stderr tail to the log, once per process. */
  report(exit: HelperExit): void {
    if (this.reported) {
      return;
    }
    this.reported = true;
    for (const line of crashReport(exit, this.tail)) {
      log().error(line);
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
