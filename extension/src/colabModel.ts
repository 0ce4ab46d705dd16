// Connect's Colab option and the Colab parts of the status bar, as pure functions (no VS Code).
import type { ColabRuntime, ColabUsageResult, ConnectColabParams } from "./protocol";

/** The accelerators a new runtime can be asked for from Connect (`colab new --gpu …`). */
export const NEW_ACCELERATORS = ["T4", "L4", "A100", "H100"] as const;

export interface ColabChoice {
  label: string;
  description: string;
  /** An existing session to connect to, or undefined for a new one. */
  session?: string;
  /** For a new session: the GPU asked for; undefined: a CPU runtime. */
  accelerator?: string;
}

/** "T4" stays "T4"; the client's "NONE" is a CPU runtime; TPUs read "TPU V5E1". */
export function acceleratorLabel(accelerator: string): string {
  if (accelerator === "NONE") {
    return "CPU";
  }
  return /^V\dE\d$/i.test(accelerator) ? `TPU ${accelerator.toUpperCase()}` : accelerator;
}

/** Your sessions first, then a new runtime per accelerator, then a CPU one. */
export function colabChoices(sessions: readonly ColabRuntime[]): ColabChoice[] {
  const existing = sessions.map((s) => ({
    label: `$(vm) ${s.session}`,
    description: `${acceleratorLabel(s.accelerator)} · existing session`,
    session: s.session,
  }));
  const fresh = NEW_ACCELERATORS.map((gpu) => ({
    label: `$(add) New ${gpu} runtime`,
    description: "colab new --gpu " + gpu + " (uses compute units)",
    accelerator: gpu,
  }));
  return [...existing, ...fresh, { label: "$(add) New CPU runtime", description: "colab new" }];
}

/** What Connect asks the helper for, given the pick and the folders. */
export function connectColabParams(
  choice: ColabChoice,
  workspaceRoot: string,
  extra: Partial<ConnectColabParams> = {},
): ConnectColabParams {
  const base: ConnectColabParams = { workspaceRoot, ...extra };
  if (choice.session !== undefined) {
    return { ...base, session: choice.session };
  }
  return choice.accelerator === undefined ? { ...base, new: true } : { ...base, new: true, accelerator: choice.accelerator };
}

/** The progress notification's title while Connect runs. */
export function colabProgressTitle(choice: ColabChoice): string {
  if (choice.session !== undefined) {
    return `ColabLink: connecting to Colab session ${choice.session}`;
  }
  return `ColabLink: starting a ${choice.accelerator ?? "CPU"} Colab runtime`;
}

function units(value: number): string {
  return value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2);
}

/** The status bar's short form of the balance: "12.5 CU". */
export function usageShort(usage: ColabUsageResult): string {
  return `${units(usage.balance)} CU`;
}

/** The tooltip's line: balance and the rate the account burns them at. */
export function usageLine(usage: ColabUsageResult): string {
  return `Compute units: ${usage.balance.toFixed(2)} left, using ${usage.ratePerHour.toFixed(2)}/h`;
}

/** How often the compute units are asked for while a Colab profile is connected. */
export const USAGE_INTERVAL_MS = 60_000;

/** The connected Colab profiles whose compute units are older than the interval (or unknown). */
export function dueForUsage(
  statuses: readonly { profile: string; state: string; colab: ColabRuntime | null }[],
  askedAt: ReadonlyMap<string, number>,
  now: number,
): string[] {
  return statuses
    .filter((s) => s.colab !== null && s.state === "connected")
    .filter((s) => now - (askedAt.get(s.profile) ?? -Infinity) >= USAGE_INTERVAL_MS)
    .map((s) => s.profile);
}
