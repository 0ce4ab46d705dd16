// The Jupyter server collection ColabLink gives the Jupyter extension: one server per profile,
// "ColabLink: <profile>" in the notebook kernel picker. Resolving one saves and flushes the
// notebooks, asks the helper to start the runtime's Jupyter server when none runs, and hands back
// its forwarded URL and token. Only types come from vscode here, so the unit tests drive it as is.
import type {
  JupyterServer,
  JupyterServerCommand,
  JupyterServerCommandProvider,
  JupyterServerProvider,
} from "@vscode/jupyter-extension";
import type { CancellationToken, Disposable, Event, Uri } from "vscode";
import type { JupyterEnsureResult } from "./protocol";

export const JUPYTER_EXTENSION_ID = "ms-toolsai.jupyter";
export const COLLECTION_ID = "colablink";
export const COLLECTION_LABEL = "ColabLink";
export const CONNECT_COMMAND_LABEL = "Connect to a runtime…";
const SERVER_ID_PREFIX = "colablink:";

/**
 * The Jupyter extension reads `mappedRemoteDirectory` from a resolved server (a field of its
 * proposed API): the local folder that is the server's root. It then names each session by the
 * notebook's path under that folder, so the server starts the kernel in the notebook's folder of
 * the synced tree, where relative paths find the synced files.
 */
export type MappedJupyterServer = JupyterServer & { mappedRemoteDirectory?: Uri };

export interface ServerSourceDeps {
  /** The workspace's profiles, by name. */
  profiles(): string[];
  /** Fires when a profile's status changed (often); the collection tells the Jupyter extension only when the names did. */
  onDidChangeProfiles: Event<void>;
  /** Saves the open notebooks and waits until pending pushes landed on the runtime. */
  prepare(profile: string, token: CancellationToken): Promise<void>;
  /** The runtime's Jupyter server, started when none runs, through a local forward. */
  ensure(profile: string, token: CancellationToken): Promise<JupyterEnsureResult>;
  /** Runs ColabLink's Connect; used when the workspace has no profile yet. */
  connect(): Promise<void>;
  uri: { parse(text: string): Uri; file(path: string): Uri };
  /** The event the collection fires (vscode.EventEmitter in the extension). */
  changed: { event: Event<void>; fire(): void };
}

export function serverId(profile: string): string {
  return `${SERVER_ID_PREFIX}${profile}`;
}

export function profileOfServer(id: string): string | undefined {
  return id.startsWith(SERVER_ID_PREFIX) ? id.slice(SERVER_ID_PREFIX.length) : undefined;
}

export function serverLabel(profile: string): string {
  return `ColabLink: ${profile}`;
}

export class ColabLinkServers implements JupyterServerProvider, JupyterServerCommandProvider, Disposable {
  readonly onDidChangeServers: Event<void>;
  private names: string;
  private readonly subscription: Disposable;

  constructor(private readonly deps: ServerSourceDeps) {
    this.onDidChangeServers = deps.changed.event;
    this.names = this.currentNames();
    this.subscription = deps.onDidChangeProfiles(() => {
      const names = this.currentNames();
      if (names !== this.names) {
        this.names = names;
        deps.changed.fire();
      }
    });
  }

  private currentNames(): string {
    return [...this.deps.profiles()].sort().join("\n");
  }

  provideJupyterServers(): JupyterServer[] {
    return [...this.deps.profiles()].sort().map((profile) => ({ id: serverId(profile), label: serverLabel(profile) }));
  }

  async resolveJupyterServer(server: JupyterServer, token: CancellationToken): Promise<MappedJupyterServer> {
    const profile = profileOfServer(server.id);
    if (profile === undefined || !this.deps.profiles().includes(profile)) {
      throw new Error(`${server.label} is no ColabLink profile of this workspace any more.`);
    }
    await this.deps.prepare(profile, token);
    const found = await this.deps.ensure(profile, token);
    return {
      ...server,
      connectionInformation: { baseUrl: this.deps.uri.parse(found.baseUrl), token: found.token },
      mappedRemoteDirectory: this.deps.uri.file(found.localRoot),
    };
  }

  /** With no profile yet, the picker offers Connect instead of an empty list. */
  provideCommands(): JupyterServerCommand[] {
    return this.deps.profiles().length === 0 ? [{ label: CONNECT_COMMAND_LABEL, canBeAutoSelected: true }] : [];
  }

  async handleCommand(command: JupyterServerCommand): Promise<JupyterServer | undefined> {
    if (command.label !== CONNECT_COMMAND_LABEL) {
      return undefined;
    }
    await this.deps.connect();
    return this.provideJupyterServers()[0];
  }

  dispose(): void {
    this.subscription.dispose();
  }
}
