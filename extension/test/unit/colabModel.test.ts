import { describe, expect, it } from "vitest";
import {
  acceleratorLabel,
  colabChoices,
  colabProgressTitle,
  connectColabParams,
  dueForUsage,
  USAGE_INTERVAL_MS,
  usageLine,
  usageShort,
  type ColabChoice,
} from "../../src/colabModel";
import { statusView } from "../../src/statusText";
import { profileStatus } from "./fixtures";

function cpuChoice(): ColabChoice {
  const choice = colabChoices([]).find((c) => c.accelerator === undefined);
  if (!choice) {
    throw new Error("no CPU choice");
  }
  return choice;
}

describe("the Colab option of Connect", () => {
  it("lists your sessions first, then a new runtime per accelerator, then a CPU one", () => {
    const choices = colabChoices([{ session: "train", accelerator: "A100" }, { session: "cpu", accelerator: "NONE" }]);
    expect(choices.map((c) => c.label)).toEqual([
      "$(vm) train",
      "$(vm) cpu",
      "$(add) New T4 runtime",
      "$(add) New L4 runtime",
      "$(add) New A100 runtime",
      "$(add) New H100 runtime",
      "$(add) New CPU runtime",
    ]);
    expect(choices[0].description).toBe("A100 · existing session");
    expect(choices[1].description).toBe("CPU · existing session");
  });

  it("asks the helper for the picked session, or for a new one with its accelerator", () => {
    const [existing, t4] = colabChoices([{ session: "train", accelerator: "T4" }]);
    const cpu = cpuChoice();
    const folders = { remoteDir: "p_outputs", localDir: "colab_outputs" };
    expect(connectColabParams(existing, "/ws", folders)).toEqual({ workspaceRoot: "/ws", ...folders, session: "train" });
    expect(connectColabParams(t4, "/ws")).toEqual({ workspaceRoot: "/ws", new: true, accelerator: "T4" });
    expect(connectColabParams(cpu, "/ws")).toEqual({ workspaceRoot: "/ws", new: true });
  });

  it("names what it starts in the progress notification", () => {
    const [existing, t4] = colabChoices([{ session: "train", accelerator: "T4" }]);
    expect(colabProgressTitle(existing)).toBe("ColabLink: connecting to Colab session train");
    expect(colabProgressTitle(t4)).toBe("ColabLink: starting a T4 Colab runtime");
    expect(colabProgressTitle(cpuChoice())).toBe("ColabLink: starting a CPU Colab runtime");
  });

  it("labels accelerators as Colab names them", () => {
    expect(acceleratorLabel("T4")).toBe("T4");
    expect(acceleratorLabel("NONE")).toBe("CPU");
    expect(acceleratorLabel("V5E1")).toBe("TPU V5E1");
  });
});

describe("compute units", () => {
  it("are asked for per connected Colab profile, at most once a minute", () => {
    const colab = { session: "t", accelerator: "T4" };
    const statuses = [
      profileStatus({ profile: "a", colab }),
      profileStatus({ profile: "b", colab, state: "reconnecting" }),
      profileStatus({ profile: "c" }),
    ];
    expect(dueForUsage(statuses, new Map(), 1000)).toEqual(["a"]);
    expect(dueForUsage(statuses, new Map([["a", 1000]]), 1000 + USAGE_INTERVAL_MS - 1)).toEqual([]);
    expect(dueForUsage(statuses, new Map([["a", 1000]]), 1000 + USAGE_INTERVAL_MS)).toEqual(["a"]);
  });

  it("read short in the status bar and in full in its tooltip", () => {
    expect(usageShort({ balance: 12.5, ratePerHour: 1.76 })).toBe("12.5 CU");
    expect(usageShort({ balance: 3.456, ratePerHour: 0 })).toBe("3.46 CU");
    expect(usageShort({ balance: 250.4, ratePerHour: 0 })).toBe("250 CU");
    expect(usageLine({ balance: 12.5, ratePerHour: 1.76 })).toBe("Compute units: 12.50 left, using 1.76/h");
  });
});

describe("the status bar on a Colab runtime", () => {
  const colab = { session: "train", accelerator: "T4" };

  it("shows the accelerator and the balance, with session and rate in the tooltip", () => {
    const status = profileStatus({ colab, gpu: { name: "Tesla T4", memoryMib: 15360 } });
    const view = statusView({ helper: "running", connecting: false, status, usage: { balance: 12.5, ratePerHour: 1.76 } });
    expect(view.text).toBe("$(vm-running) Colab · T4 · 12.5 CU");
    expect(view.tooltip).toContain("Colab session: train (T4)");
    expect(view.tooltip).toContain("Compute units: 12.50 left, using 1.76/h");
    expect(view.tooltip).toContain("GPU: Tesla T4 (15360 MiB)");
  });

  it("shows no balance where colab usage did not answer, and none for a profile off Colab", () => {
    expect(statusView({ helper: "running", connecting: false, status: profileStatus({ colab }) }).text).toBe("$(vm-running) Colab · T4");
    const plain = statusView({ helper: "running", connecting: false, status: profileStatus(), usage: { balance: 1, ratePerHour: 1 } });
    expect(plain.text).toBe("$(vm-running) Colab · CPU");
    expect(plain.tooltip).not.toContain("Compute units");
  });

  it("names a CPU session by the machine", () => {
    const status = profileStatus({ colab: { session: "c", accelerator: "NONE" } });
    expect(statusView({ helper: "running", connecting: false, status }).text).toBe("$(vm-running) Colab · CPU");
  });
});
