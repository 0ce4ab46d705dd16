import type { JupyterServerCommandProvider, JupyterServerProvider } from "@vscode/jupyter-extension";
import type { CancellationToken, Event, Uri } from "vscode";
import { describe, expect, it } from "vitest";
import {
  CONNECT_COMMAND_LABEL,
  ColabLinkServers,
  profileOfServer,
  serverId,
  type MappedJupyterServer,
  type ServerSourceDeps,
} from "../../src/jupyterServers";
import type { JupyterEnsureResult } from "../../src/protocol";

/** A tiny event source standing in for vscode.EventEmitter. */
function emitter(): { event: Event<void>; fire(): void; count: () => number } {
  const listeners = new Set<() => void>();
  let fired = 0;
  const event: Event<void> = (listener) => {
    const bound = (): void => void listener();
    listeners.add(bound);
    return { dispose: () => listeners.delete(bound) };
  };
  return {
    event,
    fire: () => {
      fired += 1;
      listeners.forEach((listener) => listener());
    },
    count: () => fired,
  };
}

const token = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) } as unknown as CancellationToken;
const uri = {
  parse: (text: string) => ({ scheme: "http", toString: () => text }) as unknown as Uri,
  file: (path: string) => ({ scheme: "file", fsPath: path, toString: () => `file://${path}` }) as unknown as Uri,
};

function setup(names: string[], ensured: JupyterEnsureResult = { baseUrl: "http://127.0.0.1:41000/", token: "t0k", localRoot: "/w/proj" }) {
  const calls: string[] = [];
  const profileEvents = emitter();
  const changed = emitter();
  const deps: ServerSourceDeps = {
    profiles: () => names,
    onDidChangeProfiles: profileEvents.event,
    prepare: async (profile) => void calls.push(`prepare ${profile}`),
    ensure: async (profile) => {
      calls.push(`ensure ${profile}`);
      return ensured;
    },
    connect: async () => {
      calls.push("connect");
      names.push("fresh");
    },
    uri,
    changed,
  };
  const servers = new ColabLinkServers(deps);
  // The Jupyter extension sees it only through its API's types.
  const provider: JupyterServerProvider & JupyterServerCommandProvider = servers;
  return { provider, calls, profileEvents, changed, names };
}

describe("ColabLinkServers", () => {
  it("lists one server per profile, labelled for the kernel picker", async () => {
    const { provider } = setup(["gpu", "cpu"]);
    const servers = await provider.provideJupyterServers(token);
    expect(servers).toEqual([
      { id: "colablink:cpu", label: "ColabLink: cpu" },
      { id: "colablink:gpu", label: "ColabLink: gpu" },
    ]);
  });

  it("resolving saves and flushes first, then returns the forwarded URL, the token and the mapped root", async () => {
    const { provider, calls } = setup(["gpu"]);
    const resolved = (await provider.resolveJupyterServer({ id: serverId("gpu"), label: "ColabLink: gpu" }, token)) as MappedJupyterServer;
    expect(calls).toEqual(["prepare gpu", "ensure gpu"]);
    expect(resolved.connectionInformation?.baseUrl.toString()).toBe("http://127.0.0.1:41000/");
    expect(resolved.connectionInformation?.token).toBe("t0k");
    expect(resolved.mappedRemoteDirectory?.fsPath).toBe("/w/proj");
    expect(resolved.id).toBe("colablink:gpu");
  });

  it("refuses a server whose profile is gone, without starting anything", async () => {
    const { provider, calls } = setup(["gpu"]);
    await expect(provider.resolveJupyterServer({ id: serverId("old"), label: "ColabLink: old" }, token)).rejects.toThrow(
      /no ColabLink profile of this workspace/,
    );
    await expect(provider.resolveJupyterServer({ id: "someone-else", label: "x" }, token)).rejects.toThrow();
    expect(calls).toEqual([]);
  });

  it("tells the Jupyter extension only when the profile names change, not on every status", () => {
    const { profileEvents, changed, names } = setup(["gpu"]);
    profileEvents.fire();
    expect(changed.count()).toBe(0);
    names.push("cpu");
    profileEvents.fire();
    profileEvents.fire();
    expect(changed.count()).toBe(1);
  });

  it("offers Connect while there is no profile, and hands back the new profile's server", async () => {
    const { provider, calls } = setup([]);
    const commands = (await provider.provideCommands(undefined, token)) ?? [];
    expect(commands).toEqual([{ label: CONNECT_COMMAND_LABEL, canBeAutoSelected: true }]);
    const server = await provider.handleCommand(commands[0], token);
    expect(calls).toEqual(["connect"]);
    expect(server).toEqual({ id: "colablink:fresh", label: "ColabLink: fresh" });
    expect(await provider.provideCommands(undefined, token)).toEqual([]);
  });

  it("maps server ids back to profiles", () => {
    expect(profileOfServer(serverId("a:b"))).toBe("a:b");
    expect(profileOfServer("other")).toBeUndefined();
  });
});
