// The JSON-RPC protocol between the extension and the helper, mirroring
// server/colablink/helper/protocol.py name for name; a test parses both files and fails when they differ.

/** Custom methods; standard LSP ones (codeLens, $/progress, $/cancelRequest) are not listed. */
export const Method = {
  CONNECT: "colablink/connect",
  DISCONNECT: "colablink/disconnect",
  STATUS: "colablink/status",
  EXEC: "colablink/exec",
  PTY_OPEN: "colablink/pty/open",
  PTY_INPUT: "colablink/pty/input",
  PTY_RESIZE: "colablink/pty/resize",
  PTY_CLOSE: "colablink/pty/close",
  FLUSH: "colablink/flush",
  SYNC_NOW: "colablink/syncNow",
  OUTPUTS: "colablink/outputs",
  DOWNLOAD: "colablink/download",
  FORWARD: "colablink/forward",
  UNFORWARD: "colablink/unforward",
  SSH_HOST: "colablink/sshHost",
  CHECK_CONNECTION_INFO: "colablink/checkConnectionInfo",
  COLAB_SESSIONS: "colablink/colabSessions",
  CONNECT_COLAB: "colablink/connectColab",
  COLAB_USAGE: "colablink/colabUsage",
  STOP_RUNTIME: "colablink/stopRuntime",
  RUNS: "colablink/runs",
  RUN_ATTACH: "colablink/runs/attach",
  JUPYTER_ENSURE: "colablink/jupyter/ensure",
  CELL_RUN: "colablink/cells/run",
  CELL_RESTART: "colablink/cells/restart",
} as const;

/** Notifications the helper sends to the extension. */
export const Notification = {
  EXEC_OUTPUT: "colablink/execOutput",
  EXEC_NOTICE: "colablink/execNotice",
  PTY_OUTPUT: "colablink/pty/output",
  PTY_EXIT: "colablink/pty/exit",
  STATUS_CHANGED: "colablink/statusChanged",
  OUTPUTS_CHANGED: "colablink/outputsChanged",
} as const;

/**
 * VS Code command ids the extension registers and the helper's code lenses invoke.
 * RUN_FILE takes [workspace-relative path]; RUN_CELL takes [path, startLine, endLine]
 * (0-based, inclusive, the "# %%" marker line excluded).
 */
export const LensCommand = {
  RUN_FILE: "colablink.runFile",
  RUN_CELL: "colablink.runCell",
} as const;

/** Project error codes; each matches a colablink.errors class's code. */
export const ErrorCode = {
  GENERIC: -32000,
  BAD_CONNECTION_INFO: -32001,
  AUTH_FAILED: -32002,
  HOST_KEY_MISMATCH: -32003,
  UNREACHABLE: -32004,
  UNKNOWN_PROFILE: -32005,
  USAGE: -32006,
  REMOTE: -32007,
  SYNC_HALTED: -32008,
  // JSON-RPC's own RequestCancelled, also what a cancelled transfer answers.
  CANCELLED: -32800,
} as const;

export type SyncState =
  | "idle"
  | "scanning"
  | "pushing"
  | "pulling"
  | "disconnected"
  | "retrying"
  | "halted";
export type ConnectionState = "connected" | "connecting" | "reconnecting" | "disconnected" | "error";

export type LogLevel = "error" | "warning" | "info" | "debug";

export interface SyncSettings {
  exclude?: string[];
  debounceMs?: number;
}

/**
 * initializationOptions and the colablink section of didChangeConfiguration.
 * Sync settings apply to profiles connected after the change.
 */
export interface HelperSettings {
  logLevel?: LogLevel;
  codeLens?: boolean;
  sync?: SyncSettings;
  // The ssh config that connect writes the profile's Host block to; null: ~/.ssh/config.
  sshConfigFile?: string | null;
}

export interface ConnectParams {
  workspaceRoot: string;
  connectionInfo?: string;
  profile?: string;
  remoteDir?: string;
  localDir?: string;
  // Client-created work-done token that hears each step of the connect.
  workDoneToken?: string | number;
}

export interface CheckConnectionInfoParams {
  connectionInfo: string;
}

/** Parsed, nothing contacted: where Connect would go (the password stays out). */
export interface CheckConnectionInfoResult {
  host: string;
  port: number;
  username: string;
}

export interface GpuStatus {
  name: string;
  memoryMib: number | null;
}

/** What the runtime has left, refreshed every few seconds while connected; null: unknown. */
export interface ResourcesStatus {
  gpuMemoryUsedMib: number | null;
  gpuMemoryTotalMib: number | null;
  gpuUtilizationPct: number | null;
  ramTotalBytes: number | null;
  ramAvailableBytes: number | null;
  diskTotalBytes: number | null;
  diskFreeBytes: number | null;
}

/** A TCP port the runtime's login user listens on; `host` is where a forward connects. */
export interface RuntimePort {
  port: number;
  address: string;
  host: string;
  process: string | null;
  pid: number | null;
}

export interface ProfileStatus {
  profile: string;
  state: ConnectionState;
  host: string;
  port: number;
  remoteRoot: string;
  remoteDir: string;
  localDir: string;
  latencyMs: number | null;
  gpu: GpuStatus | null;
  syncState: SyncState;
  syncPending: number;
  retryInSeconds: number | null;
  lastError: string | null;
  resources: ResourcesStatus | null;
  /** Refreshed with the resources while connected; empty otherwise. */
  ports: RuntimePort[];
  /** Set for a profile made by the Colab option (or `init --colab`). */
  colab: ColabRuntime | null;
}

/** The Colab session a profile dials through Google's channel. */
export interface ColabRuntime {
  session: string;
  /** "T4", "A100", "V5E1"…, "NONE" for a CPU runtime. */
  accelerator: string;
}

export interface DisconnectParams {
  profile: string;
  forget?: boolean;
}

export interface StatusResult {
  profiles: ProfileStatus[];
}

export interface ExecParams {
  profile: string;
  execId: string;
  argv?: string[];
  commandLine?: string;
  cwd?: string;
}

export interface ExecResult {
  exitCode: number;
}

export interface ExecOutputParams {
  execId: string;
  stream: "stdout" | "stderr";
  data: string;
}

/** About the link under an exec or attach, not its output: "link lost; reconnecting…". */
export interface ExecNoticeParams {
  execId: string;
  message: string;
}

export interface RunsParams {
  profile: string;
}

export interface RunEntry {
  id: string;
  command: string;
  /** running, exited, lost (its supervisor died) */
  state: string;
  /** Seconds since the epoch, the runtime's clock. */
  started: number;
  ended: number | null;
  exitCode: number | null;
}

export interface RunsResult {
  /** Newest first. */
  runs: RunEntry[];
}

export interface RunAttachParams {
  profile: string;
  runId: string;
  /** Names the execOutput/execNotice notifications of this attach. */
  execId: string;
  /** Output from this byte on (default 0: all of it). */
  fromByte?: number;
}

export interface PtyOpenParams {
  profile: string;
  cols: number;
  rows: number;
  cwd?: string;
}

export interface PtyOpenResult {
  ptyId: string;
}

export interface PtyInputParams {
  ptyId: string;
  data: string;
}

export interface PtyResizeParams {
  ptyId: string;
  cols: number;
  rows: number;
}

export interface PtyCloseParams {
  ptyId: string;
}

export interface PtyOutputParams {
  ptyId: string;
  data: string;
}

export interface PtyExitParams {
  ptyId: string;
  exitCode: number;
}

export interface FlushParams {
  profile: string;
  paths?: string[];
}

export interface SyncNowParams {
  profile: string;
  // Client-created work-done token; without one the helper asks the client to create one.
  workDoneToken?: string | number;
}

export interface SyncNowResult {
  pushed: number;
  pulled: number;
}

export interface OutputsParams {
  profile: string;
  path?: string;
}

export interface OutputEntry {
  name: string;
  path: string;
  kind: "file" | "directory";
  size: number;
  mtime: number;
}

export interface OutputsResult {
  localDir: string;
  remoteDir: string;
  entries: OutputEntry[];
}

export interface DownloadParams {
  profile: string;
  remotePath: string;
  localPath?: string;
}

export interface DownloadResult {
  localPath: string;
  bytes: number;
}

export interface ForwardParams {
  profile: string;
  remotePort: number;
  localPort?: number;
  /** An IP address of the runtime; default: its loopback, 127.0.0.1. */
  remoteHost?: string;
}

export interface ForwardResult {
  localPort: number;
  remotePort: number;
}

export interface UnforwardParams {
  profile: string;
  localPort: number;
}

export interface SshHostParams {
  profile: string;
}

export interface SshHostResult {
  alias: string;
  remoteRoot: string;
  configFile: string;
}

export interface StatusChangedParams {
  status: ProfileStatus;
}

export interface OutputsChangedParams {
  profile: string;
  paths: string[];
}

export interface ColabSessionsParams {
  /** Google's `colab` client; default: COLABLINK_COLAB_CLI, then `colab` on PATH. */
  colabCli?: string;
}

export interface ColabSessionsResult {
  sessions: ColabRuntime[];
}

/** Connect through Colab's official channel: an existing session, or `new` creates one. */
export interface ConnectColabParams {
  workspaceRoot: string;
  session?: string;
  new?: boolean;
  /** For a new session: T4, L4, G4, A100, H100 (GPU) or v5e1, v6e1 (TPU); absent: CPU. */
  accelerator?: string;
  profile?: string;
  remoteDir?: string;
  localDir?: string;
  colabCli?: string;
  username?: string;
  remoteRoot?: string;
  workDoneToken?: string | number;
}

export interface ColabUsageParams {
  profile: string;
}

/** The account's compute units, where `colab usage` answers (else the result is null). */
export interface ColabUsageResult {
  balance: number;
  ratePerHour: number;
}

export interface StopRuntimeParams {
  profile: string;
}

export interface StopRuntimeResult {
  session: string;
  pulled: number;
}

export interface JupyterEnsureParams {
  profile: string;
}

/** The runtime's Jupyter server (started when none runs) through a local forward. */
export interface JupyterEnsureResult {
  baseUrl: string;
  token: string;
  /** The local folder that is the server's root (the remote source root) on the runtime. */
  localRoot: string;
}

/** One "# %%" cell, run in its file's kernel on the runtime. */
export interface CellRunParams {
  profile: string;
  /** Names the execOutput notifications of this cell. */
  execId: string;
  /** Workspace-relative, "/"-separated. */
  path: string;
  /** 1-based line of the cell's first code line in the file. */
  line: number;
  code: string;
}

export interface CellRestartParams {
  profile: string;
  path: string;
}
