import { describe, expect, it } from "vitest";
import { countedDown, isLinkDown, pickProfile, statusView } from "../../src/statusText";
import { profileStatus } from "./fixtures";

describe("statusView", () => {
  it("says disconnected when no profile exists", () => {
    const view = statusView({ helper: "running", connecting: false });
    expect(view.text).toBe("$(debug-disconnect) Colab · disconnected");
    expect(view.tone).toBe("normal");
  });

  it("says disconnected for a disconnected profile and keeps its details in the tooltip", () => {
    const view = statusView({ helper: "running", connecting: false, status: profileStatus({ state: "disconnected" }) });
    expect(view.text).toBe("$(debug-disconnect) Colab · disconnected");
    expect(view.tooltip).toContain("Profile: default");
  });

  it("shows connecting while the Connect command runs", () => {
    expect(statusView({ helper: "running", connecting: true }).text).toBe("$(sync~spin) Colab · connecting…");
    const stillOld = profileStatus({ state: "disconnected" });
    expect(statusView({ helper: "running", connecting: true, status: stillOld }).text).toContain("connecting…");
  });

  it("names the GPU when connected to one", () => {
    const status = profileStatus({ gpu: { name: "Tesla T4", memoryMib: 15360 } });
    const view = statusView({ helper: "running", connecting: false, status });
    expect(view.text).toBe("$(vm-running) Colab · Tesla T4");
    expect(view.tooltip).toContain("GPU: Tesla T4 (15360 MiB)");
  });

  it("says CPU when connected without a GPU", () => {
    expect(statusView({ helper: "running", connecting: false, status: profileStatus() }).text).toBe(
      "$(vm-running) Colab · CPU",
    );
  });

  it("puts host, latency and profile in the tooltip", () => {
    const tooltip = statusView({ helper: "running", connecting: false, status: profileStatus() }).tooltip;
    expect(tooltip).toContain("Host: 127.0.0.1:2222");
    expect(tooltip).toContain("Latency: 12 ms");
    expect(tooltip).toContain("Profile: default");
  });

  it("spins with a count while pushing or pulling", () => {
    const pushing = profileStatus({ syncState: "pushing", syncPending: 3 });
    const pulling = profileStatus({ syncState: "pulling", syncPending: 7 });
    expect(statusView({ helper: "running", connecting: false, status: pushing }).text).toBe("$(sync~spin) Colab · ↑3");
    expect(statusView({ helper: "running", connecting: false, status: pulling }).text).toBe("$(sync~spin) Colab · ↓7");
  });

  it("counts down while reconnecting", () => {
    const status = profileStatus({ state: "reconnecting", retryInSeconds: 4.2 });
    const view = statusView({ helper: "running", connecting: false, status });
    expect(view.text).toBe("$(sync~spin) Colab · reconnecting in 5 s");
    expect(view.tone).toBe("warning");
  });

  it("shows an error with the last error in the tooltip", () => {
    const status = profileStatus({ state: "error", lastError: "The runtime refused the password." });
    const view = statusView({ helper: "running", connecting: false, status });
    expect(view.text).toBe("$(error) Colab · error");
    expect(view.tone).toBe("error");
    expect(view.tooltip).toContain("The runtime refused the password.");
  });

  it("shows a failed helper as an error", () => {
    const view = statusView({ helper: "failed", helperError: "no python3", connecting: false });
    expect(view.text).toBe("$(error) Colab · helper failed");
    expect(view.tooltip).toBe("no python3");
  });
});

describe("pickProfile", () => {
  const a = profileStatus({ profile: "a", state: "disconnected" });
  const b = profileStatus({ profile: "b", state: "connected" });

  it("prefers the configured default", () => {
    expect(pickProfile([a, b], "a")?.profile).toBe("a");
  });

  it("otherwise prefers a live profile", () => {
    expect(pickProfile([a, b], undefined)?.profile).toBe("b");
    expect(pickProfile([a, b], "missing")?.profile).toBe("b");
  });

  it("falls back to any profile, or none", () => {
    expect(pickProfile([a], undefined)?.profile).toBe("a");
    expect(pickProfile([], undefined)).toBeUndefined();
  });
});

describe("countedDown", () => {
  it("moves the reconnect countdown on with the time since the report", () => {
    const status = profileStatus({ state: "reconnecting", retryInSeconds: 10 });
    const later = countedDown(status, 3_500);
    expect(later.retryInSeconds).toBe(6.5);
    expect(statusView({ helper: "running", connecting: false, status: later }).text).toBe(
      "$(sync~spin) Colab · reconnecting in 7 s",
    );
    expect(countedDown(status, 60_000).retryInSeconds).toBe(0);
  });

  it("leaves a status without a pending retry alone", () => {
    const status = profileStatus();
    expect(countedDown(status, 5_000)).toBe(status);
  });

  it("drops a stale latency from the tooltip while the link is down", () => {
    const live = statusView({ helper: "running", connecting: false, status: profileStatus({ latencyMs: 12.4 }) });
    expect(live.tooltip).toContain("Latency: 12 ms");
    for (const down of [
      profileStatus({ state: "reconnecting", syncState: "retrying", retryInSeconds: 4, latencyMs: 12.4 }),
      profileStatus({ state: "connected", syncState: "retrying", retryInSeconds: 2, latencyMs: 12.4 }),
      profileStatus({ state: "error", latencyMs: 12.4 }),
    ]) {
      const view = statusView({ helper: "running", connecting: false, status: down });
      expect(view.tooltip).toContain("Latency: — (not reachable now)");
      expect(view.tooltip).not.toContain("12 ms");
    }
  });

  it("knows when a held profile's link is down", () => {
    expect(isLinkDown(undefined)).toBe(false);
    expect(isLinkDown(profileStatus())).toBe(false);
    expect(isLinkDown(profileStatus({ state: "disconnected" }))).toBe(false);
    expect(isLinkDown(profileStatus({ state: "reconnecting" }))).toBe(true);
    expect(isLinkDown(profileStatus({ syncState: "retrying", retryInSeconds: 3 }))).toBe(true);
    expect(isLinkDown(profileStatus({ syncState: "disconnected" }))).toBe(false);
  });

  it("shows GPU, RAM and disk in the tooltip and turns amber when GPU memory or disk is nearly full", () => {
    const resources = {
      gpuMemoryUsedMib: 4096,
      gpuMemoryTotalMib: 16384,
      gpuUtilizationPct: 35,
      ramTotalBytes: 12 * 2 ** 30,
      ramAvailableBytes: 9 * 2 ** 30,
      diskTotalBytes: 100 * 2 ** 30,
      diskFreeBytes: 60 * 2 ** 30,
    };
    const calm = statusView({ helper: "running", connecting: false, status: profileStatus({ resources }) });
    expect(calm.tone).toBe("normal");
    expect(calm.tooltip).toContain("GPU memory: 4.0 GiB of 16.0 GiB used (25%), 35% busy");
    expect(calm.tooltip).toContain("RAM: 3.0 GiB of 12.0 GiB used (25%)");
    expect(calm.tooltip).toContain("Disk: 40.0 GiB of 100.0 GiB used (40%)");
    expect(calm.tooltip).not.toContain("Nearly full");
    const gpuFull = statusView({ helper: "running", connecting: false, status: profileStatus({ resources: { ...resources, gpuMemoryUsedMib: 15000 } }) });
    expect(gpuFull.tone).toBe("warning");
    expect(gpuFull.tooltip).toContain("Nearly full: GPU memory");
    const diskFull = statusView({ helper: "running", connecting: false, status: profileStatus({ resources: { ...resources, diskFreeBytes: 5 * 2 ** 30 } }) });
    expect(diskFull.tone).toBe("warning");
    expect(diskFull.tooltip).toContain("Nearly full: disk");
    const unknown = statusView({ helper: "running", connecting: false, status: profileStatus({ resources: { ...resources, gpuMemoryTotalMib: null, diskTotalBytes: null } }) });
    expect(unknown.tone).toBe("normal");
    expect(unknown.tooltip).not.toContain("GPU memory");
    const down = statusView({ helper: "running", connecting: false, status: profileStatus({ state: "reconnecting", resources }) });
    expect(down.tooltip).not.toContain("RAM:");
  });
});
