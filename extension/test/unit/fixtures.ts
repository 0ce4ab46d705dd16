import type { ProfileStatus } from "../../src/protocol";

export function profileStatus(overrides: Partial<ProfileStatus> = {}): ProfileStatus {
  return {
    profile: "default",
    state: "connected",
    host: "127.0.0.1",
    port: 2222,
    remoteRoot: "/content",
    remoteDir: "project",
    localDir: "colab_outputs",
    latencyMs: 12.4,
    gpu: null,
    syncState: "idle",
    syncPending: 0,
    retryInSeconds: null,
    lastError: null,
    resources: null,
    ports: [],
    colab: null,
    ...overrides,
  };
}
