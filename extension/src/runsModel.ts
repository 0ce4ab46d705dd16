// What the "ColabLink Runs" view shows of each run: pure, so it is tested without VS Code.
import type { RunEntry } from "./protocol";

export interface RunRow {
  profile: string;
  run: RunEntry;
  label: string;
  description: string;
  tooltip: string;
  icon: "sync~spin" | "pass" | "error" | "question";
}

/** 4 s, 2 min 5 s, 3 h 07 min: short enough for a tree row. */
export function elapsedText(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) {
    return `${s} s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)} min ${s % 60} s`;
  }
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** One row per run, newest first; `nowSeconds` is this machine's clock for a run still going. */
export function runRows(profile: string, runs: readonly RunEntry[], nowSeconds: number): RunRow[] {
  return runs.map((run) => {
    const elapsed = elapsedText((run.ended ?? nowSeconds) - run.started);
    let state: string;
    let icon: RunRow["icon"];
    if (run.state === "running") {
      state = "running";
      icon = "sync~spin";
    } else if (run.state === "exited") {
      state = `exit code ${run.exitCode ?? "?"}`;
      icon = run.exitCode === 0 ? "pass" : "error";
    } else {
      state = "lost (its supervisor stopped)";
      icon = "question";
    }
    return {
      profile,
      run,
      label: run.command || run.id,
      description: `${state} · ${elapsed}`,
      tooltip: `${run.command}\nrun ${run.id} on ${profile}\nstarted ${new Date(run.started * 1000).toLocaleString()}\n${state}, ${elapsed}`,
      icon,
    };
  });
}

/** A notice about the link, as the run's terminal prints it between output lines. */
export function noticeText(message: string): string {
  return `\r\n\x1b[33mColabLink: ${message}\x1b[0m\r\n`;
}
