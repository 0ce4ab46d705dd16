// Owns the helper process: a vscode-languageclient over a HelperProcess's stdio, serialized
// (re)starts, typed requests, and notification events that survive restarts.
import * as fs from "node:fs/promises";
import * as vscode from "vscode";
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  LSPErrorCodes,
  ResponseError,
  RevealOutputChannelOn,
  State,
  WorkDoneProgress,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";
import { resolveHelperPython } from "./helperLauncher";
import { HelperProcess } from "./helperProcess";
import { errorMessage, log, showError } from "./logging";
import {
  Notification,
  type ExecNoticeParams,
  type ExecOutputParams,
  type OutputsChangedParams,
  type PtyExitParams,
  type PtyOutputParams,
  type StatusChangedParams,
} from "./protocol";
import { extensionSettings } from "./settings";
import type { HelperState } from "./statusText";

/** A failure the helper reported, with its project error code. */
export class HelperError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** How long the helper gets to exit by itself after the client's shutdown/exit. */
const EXIT_GRACE_MS = 2000;

export class HelperClient implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private process: HelperProcess | undefined;
  private queue: Promise<void> = Promise.resolve();
  private ready: Promise<LanguageClient> | undefined;
  private stateValue: HelperState = "starting";
  private lastError: string | undefined;

  readonly onExecOutput = new vscode.EventEmitter<ExecOutputParams>();
  readonly onExecNotice = new vscode.EventEmitter<ExecNoticeParams>();
  readonly onPtyOutput = new vscode.EventEmitter<PtyOutputParams>();
  readonly onPtyExit = new vscode.EventEmitter<PtyExitParams>();
  readonly onStatusChanged = new vscode.EventEmitter<StatusChangedParams>();
  readonly onOutputsChanged = new vscode.EventEmitter<OutputsChangedParams>();
  /** Fires after each (re)start, so listeners can re-read the helper's state. */
  readonly onStarted = new vscode.EventEmitter<void>();
  readonly onStateChanged = new vscode.EventEmitter<HelperState>();

  constructor(private readonly context: vscode.ExtensionContext) {}

  get state(): HelperState {
    return this.stateValue;
  }

  get error(): string | undefined {
    return this.lastError;
  }

  start(): Promise<void> {
    return this.serialize(() => this.doStart());
  }

  /** Restarts are queued: a second request waits for the first to finish instead of racing it. */
  restart(): Promise<void> {
    return this.serialize(async () => {
      await this.doStop();
      await this.doStart();
    });
  }

  stop(): Promise<void> {
    return this.serialize(() => this.doStop());
  }

  async request<R>(method: string, params: object, token?: vscode.CancellationToken): Promise<R> {
    const client = await this.running();
    try {
      return token ? await client.sendRequest<R>(method, params, token) : await client.sendRequest<R>(method, params);
    } catch (error) {
      if (error instanceof ResponseError) {
        if (error.code === LSPErrorCodes.RequestCancelled) {
          log().info(`${method} cancelled`);
        } else {
          log().error(`${method} failed (${error.code}): ${error.message}`);
        }
        throw new HelperError(error.message, error.code);
      }
      throw error;
    }
  }

  /** Hands the messages of `$/progress` reports on a client-made `token` to `onMessage`. */
  async onProgress(token: string, onMessage: (message: string) => void): Promise<vscode.Disposable> {
    const client = await this.running();
    return client.onProgress(WorkDoneProgress.type, token, (value) => {
      if (value.kind === "report" && value.message) {
        onMessage(value.message);
      }
    });
  }

  /** A request nobody waits on (keystrokes, resizes); a failure only goes to the log. */
  send(method: string, params: object): Promise<void> {
    return this.request<unknown>(method, params).then(
      () => undefined,
      (error: unknown) => log().warn(`${method}: ${errorMessage(error)}`),
    );
  }

  async sendSettings(): Promise<void> {
    if (this.client?.state === State.Running) {
      log().info("Settings changed; sending them to the helper.");
      await this.client.sendNotification("workspace/didChangeConfiguration", { settings: { colablink: extensionSettings() } });
    }
  }

  dispose(): void {
    void this.stop();
    for (const emitter of [
      this.onExecOutput,
      this.onExecNotice,
      this.onPtyOutput,
      this.onPtyExit,
      this.onStatusChanged,
      this.onOutputsChanged,
      this.onStarted,
      this.onStateChanged,
    ]) {
      emitter.dispose();
    }
  }

  private async running(): Promise<LanguageClient> {
    if (!this.ready) {
      this.start().catch(() => undefined);
    }
    await this.queue;
    if (!this.ready) {
      throw new HelperError(this.lastError ?? "The ColabLink helper is not running.", -32000);
    }
    return this.ready;
  }

  private serialize(step: () => Promise<void>): Promise<void> {
    const next = this.queue.then(step, step);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private setState(state: HelperState, error?: string): void {
    this.stateValue = state;
    this.lastError = error;
    this.onStateChanged.fire(state);
  }

  private async doStart(): Promise<void> {
    if (this.client) {
      return;
    }
    this.setState("starting");
    let python: string;
    try {
      python = await resolveHelperPython(this.context);
    } catch (error) {
      this.setState("failed", errorMessage(error));
      throw error;
    }
    let launched: HelperProcess | undefined;
    const serverOptions: ServerOptions = async () => {
      launched = await HelperProcess.launch(python, await workspaceCwd());
      this.process = launched;
      return launched.streams;
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file", language: "python" }],
      outputChannel: log(),
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: () => extensionSettings(),
      initializationFailedHandler: (error) => {
        log().error(`The helper failed to initialize: ${errorMessage(error)}`);
        return false;
      },
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue, handled: true }),
        closed: () => {
          // Only an unexpected exit lands here; the next request starts a fresh helper.
          if (this.client === client) {
            const helper = this.process;
            this.client = undefined;
            this.process = undefined;
            this.ready = undefined;
            // The pipes closed; a helper that somehow lingers must not outlive its client.
            void helper?.stop(EXIT_GRACE_MS, false);
            const message = "The ColabLink helper stopped unexpectedly; the next action restarts it.";
            this.setState("failed", message);
            void showError(message);
          }
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
    };
    const client = new LanguageClient("colablink", "ColabLink", serverOptions, clientOptions);
    client.onNotification(Notification.EXEC_OUTPUT, (p: ExecOutputParams) => this.onExecOutput.fire(p));
    client.onNotification(Notification.EXEC_NOTICE, (p: ExecNoticeParams) => this.onExecNotice.fire(p));
    client.onNotification(Notification.PTY_OUTPUT, (p: PtyOutputParams) => this.onPtyOutput.fire(p));
    client.onNotification(Notification.PTY_EXIT, (p: PtyExitParams) => this.onPtyExit.fire(p));
    client.onNotification(Notification.STATUS_CHANGED, (p: StatusChangedParams) => this.onStatusChanged.fire(p));
    client.onNotification(Notification.OUTPUTS_CHANGED, (p: OutputsChangedParams) => this.onOutputsChanged.fire(p));
    this.client = client;
    try {
      await client.start();
    } catch (error) {
      this.client = undefined;
      this.process = undefined;
      if (launched) {
        launched.report(await launched.stop(0));
      }
      this.setState("failed", `The ColabLink helper did not start: ${errorMessage(error)}`);
      throw new HelperError(`The ColabLink helper did not start: ${errorMessage(error)}`, -32000);
    }
    log().info(`Helper started with ${python}.`);
    this.ready = Promise.resolve(client);
    this.setState("running");
    this.onStarted.fire();
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    const helper = this.process;
    this.client = undefined;
    this.process = undefined;
    this.ready = undefined;
    if (client) {
      try {
        await client.stop(5000);
      } catch (error) {
        log().warn(`Stopping the helper: ${errorMessage(error)}`);
      }
    }
    // The client only closes the pipes of a process it did not spawn; ending it is ours to do.
    await helper?.stop(EXIT_GRACE_MS);
  }
}

/** The first local workspace folder, as vscode-languageclient would choose for a server it spawns. */
async function workspaceCwd(): Promise<string | undefined> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (folder?.uri.scheme !== "file") {
    return undefined;
  }
  const stats = await fs.stat(folder.uri.fsPath).catch(() => undefined);
  return stats?.isDirectory() ? folder.uri.fsPath : undefined;
}
