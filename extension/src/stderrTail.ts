// The helper's stderr repeats what it already sends as window/logMessage, so it stays out of the
// log while the helper is healthy; only its tail is kept, for the moment it dies.

export const STDERR_TAIL_LINES = 200;

/** How the helper process ended: an exit code or signal, or a launch that never happened. */
export type HelperExit = { code: number | null; signal: string | null } | { launchError: string };

/** The last `capacity` lines written to a stream, fed in arbitrary chunks. */
export class StderrTail {
  private readonly kept: string[] = [];
  private partial = "";
  private droppedCount = 0;

  constructor(readonly capacity = STDERR_TAIL_LINES) {}

  write(chunk: string): void {
    const pieces = (this.partial + chunk).split(/\r?\n/);
    this.partial = pieces.pop() ?? "";
    for (const line of pieces) {
      this.kept.push(line);
      if (this.kept.length > this.capacity) {
        this.kept.shift();
        this.droppedCount += 1;
      }
    }
  }

  /** Lines older than the kept ones. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** The kept lines, with an unfinished last line (a crash rarely ends with a newline). */
  lines(): string[] {
    return this.partial ? [...this.kept, this.partial] : [...this.kept];
  }
}

export function describeExit(exit: HelperExit): string {
  if ("launchError" in exit) {
    return `could not be launched (${exit.launchError})`;
  }
  if (exit.signal) {
    return `was killed by ${exit.signal}`;
  }
  return `exited with code ${exit.code ?? "unknown"}`;
}

/** The log lines telling why the helper is gone: a headline, then its last stderr lines. */
export function crashReport(exit: HelperExit, tail: StderrTail): string[] {
  const lines = tail.lines();
  const headline = `The helper ${describeExit(exit)}`;
  if (lines.every((line) => !line.trim())) {
    return [`${headline} and wrote nothing to stderr.`];
  }
  const earlier = tail.dropped > 0 ? ` (${tail.dropped} earlier lines dropped)` : "";
  return [`${headline}; its last ${lines.length} stderr lines${earlier}:`, ...lines];
}
