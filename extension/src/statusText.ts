// What the status bar item says for a given state; pure so it can be tested without VS Code.
import { acceleratorLabel, usageLine, usageShort } from "./colabModel";
import type { ColabUsageResult, ProfileStatus, ResourcesStatus } from "./protocol";

export type HelperState = "starting" | "running" | "failed";

export interface BarInput {
  helper: HelperState;
  helperError?: string;
  /** True while a Connect command is in flight, before the helper reports a profile. */
  connecting: boolean;
  status?: ProfileStatus;
  /** The account's compute units, for a Colab profile, where `colab usage` answered. */
  usage?: ColabUsageResult;
}

export interface BarView {
  text: string;
  tooltip: string;
  tone: "normal" | "warning" | "error";
}

const NAME = "Colab";

export function statusView(input: BarInput): BarView {
  if (input.helper === "failed") {
    return {
      text: `$(error) ${NAME} · helper failed`,
      tooltip: input.helperError ?? "The ColabLink helper could not start; see Show Logs.",
      tone: "error",
    };
  }
  const status = input.status;
  if (input.connecting && (!status || status.state !== "connected")) {
    return { text: `$(sync~spin) ${NAME} · connecting…`, tooltip: "ColabLink is connecting", tone: "normal" };
  }
  if (input.helper === "starting" && !status) {
    return { text: `$(sync~spin) ${NAME} · starting…`, tooltip: "ColabLink is starting", tone: "normal" };
  }
  if (!status || status.state === "disconnected") {
    return { text: `$(debug-disconnect) ${NAME} · disconnected`, tooltip: tooltipFor(status), tone: "normal" };
  }
  switch (status.state) {
    case "connecting":
      return { text: `$(sync~spin) ${NAME} · connecting…`, tooltip: tooltipFor(status), tone: "normal" };
    case "reconnecting":
      return { text: `$(sync~spin) ${NAME} · ${reconnectingText(status.retryInSeconds)}`, tooltip: tooltipFor(status), tone: "warning" };
    case "error":
      return { text: `$(error) ${NAME} · error`, tooltip: tooltipFor(status), tone: "error" };
    case "connected":
      return connectedView(status, input.usage);
  }
}

function connectedView(status: ProfileStatus, usage: ColabUsageResult | undefined): BarView {
  const tooltip = tooltipFor(status, usage);
  if (status.syncState === "pushing" || status.syncState === "pulling") {
    const arrow = status.syncState === "pushing" ? "↑" : "↓";
    return { text: `$(sync~spin) ${NAME} · ${arrow}${status.syncPending}`, tooltip, tone: "normal" };
  }
  if (status.syncState === "retrying") {
    return { text: `$(sync~spin) ${NAME} · ${reconnectingText(status.retryInSeconds)}`, tooltip, tone: "warning" };
  }
  if (status.syncState === "halted") {
    return { text: `$(warning) ${NAME} · sync halted`, tooltip, tone: "warning" };
  }
  const full = nearlyFull(status.resources);
  const units = usage && status.colab ? ` · ${usageShort(usage)}` : "";
  return { text: `$(vm-running) ${NAME} · ${machineLabel(status)}${units}`, tooltip, tone: full.length > 0 ? "warning" : "normal" };
}

/** A Colab runtime is named by its accelerator (T4, A100…); any other by the GPU it reports. */
function machineLabel(status: ProfileStatus): string {
  if (status.colab && status.colab.accelerator !== "NONE") {
    return acceleratorLabel(status.colab.accelerator);
  }
  return status.gpu ? status.gpu.name : "CPU";
}

/** Share of GPU memory in use, and of disk, above which the item turns amber. */
export const NEARLY_FULL = 0.9;

function share(used: number | null, total: number | null): number | undefined {
  return used === null || total === null || total <= 0 ? undefined : used / total;
}

/** What is nearly full ("GPU memory", "disk"), for the amber item and its tooltip. */
export function nearlyFull(resources: ResourcesStatus | null): string[] {
  if (!resources) {
    return [];
  }
  const gpu = share(resources.gpuMemoryUsedMib, resources.gpuMemoryTotalMib);
  const disk = share(
    resources.diskTotalBytes === null || resources.diskFreeBytes === null ? null : resources.diskTotalBytes - resources.diskFreeBytes,
    resources.diskTotalBytes,
  );
  return [...(gpu !== undefined && gpu >= NEARLY_FULL ? ["GPU memory"] : []), ...(disk !== undefined && disk >= NEARLY_FULL ? ["disk"] : [])];
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

function usedOf(used: number, total: number, unit: (n: number) => string): string {
  return `${unit(used)} of ${unit(total)} used (${Math.round((100 * used) / total)}%)`;
}

function resourceLines(resources: ResourcesStatus | null): string[] {
  if (!resources) {
    return [];
  }
  const lines: string[] = [];
  const { gpuMemoryUsedMib: gpuUsed, gpuMemoryTotalMib: gpuTotal, gpuUtilizationPct: util } = resources;
  if (gpuUsed !== null && gpuTotal !== null && gpuTotal > 0) {
    const busy = util === null ? "" : `, ${util}% busy`;
    lines.push(`GPU memory: ${usedOf(gpuUsed * 2 ** 20, gpuTotal * 2 ** 20, gib)}${busy}`);
  }
  if (resources.ramTotalBytes !== null && resources.ramAvailableBytes !== null && resources.ramTotalBytes > 0) {
    lines.push(`RAM: ${usedOf(resources.ramTotalBytes - resources.ramAvailableBytes, resources.ramTotalBytes, gib)}`);
  }
  if (resources.diskTotalBytes !== null && resources.diskFreeBytes !== null && resources.diskTotalBytes > 0) {
    lines.push(`Disk: ${usedOf(resources.diskTotalBytes - resources.diskFreeBytes, resources.diskTotalBytes, gib)}`);
  }
  const full = nearlyFull(resources);
  if (full.length > 0) {
    lines.push(`Nearly full: ${full.join(" and ")}`);
  }
  return lines;
}

function reconnectingText(retryInSeconds: number | null): string {
  return retryInSeconds === null ? "reconnecting…" : `reconnecting in ${Math.max(0, Math.ceil(retryInSeconds))} s`;
}

/** True while the helper holds the profile but cannot reach the runtime (reconnecting, retrying). */
export function isLinkDown(status: ProfileStatus | undefined): boolean {
  if (!status) {
    return false;
  }
  // Not syncState "disconnected" alone: a daemon started with --no-sync never syncs, yet runs.
  return status.state === "reconnecting" || (status.state === "connected" && status.syncState === "retrying");
}

/** A latency measured before a drop says nothing about a link that is down now. */
function latencyText(status: ProfileStatus): string {
  if (status.state !== "connected" || isLinkDown(status)) {
    return "— (not reachable now)";
  }
  return status.latencyMs === null ? "—" : `${Math.round(status.latencyMs)} ms`;
}

function tooltipFor(status: ProfileStatus | undefined, usage?: ColabUsageResult): string {
  if (!status) {
    return "ColabLink: not connected. Click to connect.";
  }
  const lines = [
    `Profile: ${status.profile}`,
    `Host: ${status.host}:${status.port}`,
    `Latency: ${latencyText(status)}`,
    `State: ${status.state}, sync ${status.syncState}`,
  ];
  if (status.colab) {
    lines.push(`Colab session: ${status.colab.session} (${acceleratorLabel(status.colab.accelerator)})`);
    if (usage) {
      lines.push(usageLine(usage));
    }
  }
  if (status.gpu) {
    lines.push(`GPU: ${status.gpu.name}${status.gpu.memoryMib === null ? "" : ` (${status.gpu.memoryMib} MiB)`}`);
  }
  if (status.state === "connected" && !isLinkDown(status)) {
    lines.push(...resourceLines(status.resources));
  }
  if (status.lastError) {
    lines.push(`Last error: ${status.lastError}`);
  }
  return lines.join("\n");
}

/** The status as it stands `elapsedMs` after the helper sent it: the retry countdown has moved on. */
export function countedDown(status: ProfileStatus, elapsedMs: number): ProfileStatus {
  if (status.retryInSeconds === null) {
    return status;
  }
  return { ...status, retryInSeconds: Math.max(0, status.retryInSeconds - elapsedMs / 1000) };
}

/** The profile the status bar speaks for: the configured default, else a live one, else any. */
export function pickProfile(
  statuses: readonly ProfileStatus[],
  defaultProfile: string | undefined,
): ProfileStatus | undefined {
  if (defaultProfile) {
    const preferred = statuses.find((s) => s.profile === defaultProfile);
    if (preferred) {
      return preferred;
    }
  }
  return statuses.find((s) => s.state !== "disconnected") ?? statuses[0];
}
