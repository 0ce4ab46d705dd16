"""The JSON-RPC protocol between the VS Code extension and the helper, defined once.

``extension/src/protocol.ts`` mirrors every method name and shape here; a test parses both files
and fails when they differ. Field names are camelCase because they travel as JSON to TypeScript.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class Method:
    """Custom methods; standard LSP ones (codeLens, $/progress, $/cancelRequest) are not listed."""

    CONNECT = "colablink/connect"
    DISCONNECT = "colablink/disconnect"
    STATUS = "colablink/status"
    EXEC = "colablink/exec"
    PTY_OPEN = "colablink/pty/open"
    PTY_INPUT = "colablink/pty/input"
    PTY_RESIZE = "colablink/pty/resize"
    PTY_CLOSE = "colablink/pty/close"
    FLUSH = "colablink/flush"
    SYNC_NOW = "colablink/syncNow"
    OUTPUTS = "colablink/outputs"
    DOWNLOAD = "colablink/download"
    FORWARD = "colablink/forward"
    UNFORWARD = "colablink/unforward"
    SSH_HOST = "colablink/sshHost"
    CHECK_CONNECTION_INFO = "colablink/checkConnectionInfo"
    COLAB_SESSIONS = "colablink/colabSessions"
    CONNECT_COLAB = "colablink/connectColab"
    COLAB_USAGE = "colablink/colabUsage"
    STOP_RUNTIME = "colablink/stopRuntime"
    RUNS = "colablink/runs"
    RUN_ATTACH = "colablink/runs/attach"
    JUPYTER_ENSURE = "colablink/jupyter/ensure"
    CELL_RUN = "colablink/cells/run"
    CELL_RESTART = "colablink/cells/restart"


class Notification:
    """Notifications the helper sends to the extension."""

    EXEC_OUTPUT = "colablink/execOutput"
    EXEC_NOTICE = "colablink/execNotice"
    PTY_OUTPUT = "colablink/pty/output"
    PTY_EXIT = "colablink/pty/exit"
    STATUS_CHANGED = "colablink/statusChanged"
    OUTPUTS_CHANGED = "colablink/outputsChanged"


class LensCommand:
    """VS Code command ids the extension registers and the helper's code lenses invoke.

    ``RUN_FILE`` takes ``[workspace-relative path]``; ``RUN_CELL`` takes ``[path, startLine,
    endLine]`` (0-based, inclusive, the ``# %%`` marker line excluded).
    """

    RUN_FILE = "colablink.runFile"
    RUN_CELL = "colablink.runCell"


class ErrorCode:
    """Project error codes; each matches a ``colablink.errors`` class's ``code``."""

    GENERIC = -32000
    BAD_CONNECTION_INFO = -32001
    AUTH_FAILED = -32002
    HOST_KEY_MISMATCH = -32003
    UNREACHABLE = -32004
    UNKNOWN_PROFILE = -32005
    USAGE = -32006
    REMOTE = -32007
    SYNC_HALTED = -32008
    # JSON-RPC's own RequestCancelled, also what a cancelled transfer answers.
    CANCELLED = -32800


SyncState = Literal["idle", "scanning", "pushing", "pulling", "disconnected", "retrying", "halted"]
ConnectionState = Literal["connected", "connecting", "reconnecting", "disconnected", "error"]


LogLevel = Literal["error", "warning", "info", "debug"]


class SyncSettings(TypedDict, total=False):
    exclude: list[str]
    debounceMs: float


class HelperSettings(TypedDict, total=False):
    """``initializationOptions`` and the ``colablink`` section of didChangeConfiguration.

    Sync settings apply to profiles connected after the change.
    """

    logLevel: LogLevel
    codeLens: bool
    sync: SyncSettings
    # The ssh config that connect writes the profile's Host block to; null: ~/.ssh/config.
    sshConfigFile: str | None


class ConnectParams(TypedDict):
    workspaceRoot: str
    connectionInfo: NotRequired[str]
    profile: NotRequired[str]
    remoteDir: NotRequired[str]
    localDir: NotRequired[str]
    # Client-created work-done token that hears each step of the connect.
    workDoneToken: NotRequired[str | int]


class CheckConnectionInfoParams(TypedDict):
    connectionInfo: str


class CheckConnectionInfoResult(TypedDict):
    """Parsed, nothing contacted: where Connect would go (the password stays out)."""

    host: str
    port: int
    username: str


class GpuStatus(TypedDict):
    name: str
    memoryMib: int | None


class ResourcesStatus(TypedDict):
    """What the runtime has left, refreshed every few seconds while connected; null: unknown."""

    gpuMemoryUsedMib: int | None
    gpuMemoryTotalMib: int | None
    gpuUtilizationPct: int | None
    ramTotalBytes: int | None
    ramAvailableBytes: int | None
    diskTotalBytes: int | None
    diskFreeBytes: int | None


class RuntimePort(TypedDict):
    """A TCP port the runtime's login user listens on; ``host`` is where a forward connects."""

    port: int
    address: str
    host: str
    process: str | None
    pid: int | None


class ColabRuntime(TypedDict):
    """The Colab session a profile dials through Google's channel, as the client's state says."""

    session: str
    # "T4", "A100", "V5E1"…, "NONE" for a CPU runtime.
    accelerator: str


class ProfileStatus(TypedDict):
    profile: str
    state: ConnectionState
    host: str
    port: int
    remoteRoot: str
    remoteDir: str
    localDir: str
    latencyMs: float | None
    gpu: GpuStatus | None
    syncState: SyncState
    syncPending: int
    retryInSeconds: float | None
    lastError: str | None
    resources: ResourcesStatus | None
    # Refreshed with the resources while connected; empty otherwise.
    ports: list[RuntimePort]
    # Set for a profile made by the Colab option (or ``init --colab``).
    colab: ColabRuntime | None


class DisconnectParams(TypedDict):
    profile: str
    forget: NotRequired[bool]


class StatusResult(TypedDict):
    profiles: list[ProfileStatus]


class ExecParams(TypedDict):
    profile: str
    execId: str
    argv: NotRequired[list[str]]
    commandLine: NotRequired[str]
    cwd: NotRequired[str]


class ExecResult(TypedDict):
    exitCode: int


class ExecOutputParams(TypedDict):
    execId: str
    stream: Literal["stdout", "stderr"]
    data: str


class ExecNoticeParams(TypedDict):
    """About the link under an exec or attach, not its output: "link lost; reconnecting…"."""

    execId: str
    message: str


class RunsParams(TypedDict):
    profile: str


class RunEntry(TypedDict):
    id: str
    command: str
    state: str  # running, exited, lost (its supervisor died)
    started: float  # seconds since the epoch, the runtime's clock
    ended: float | None
    exitCode: int | None


class RunsResult(TypedDict):
    runs: list[RunEntry]  # newest first


class RunAttachParams(TypedDict):
    profile: str
    runId: str
    execId: str  # names the execOutput/execNotice notifications of this attach
    fromByte: NotRequired[int]  # output from this byte on (default 0: all of it)


class PtyOpenParams(TypedDict):
    profile: str
    cols: int
    rows: int
    cwd: NotRequired[str]


class PtyOpenResult(TypedDict):
    ptyId: str


class PtyInputParams(TypedDict):
    ptyId: str
    data: str


class PtyResizeParams(TypedDict):
    ptyId: str
    cols: int
    rows: int


class PtyCloseParams(TypedDict):
    ptyId: str


class PtyOutputParams(TypedDict):
    ptyId: str
    data: str


class PtyExitParams(TypedDict):
    ptyId: str
    exitCode: int


class FlushParams(TypedDict):
    profile: str
    paths: NotRequired[list[str]]


class SyncNowParams(TypedDict):
    profile: str
    # Client-created work-done token; without one the helper asks the client to create one.
    workDoneToken: NotRequired[str | int]


class SyncNowResult(TypedDict):
    pushed: int
    pulled: int


class OutputsParams(TypedDict):
    profile: str
    path: NotRequired[str]


class OutputEntry(TypedDict):
    name: str
    path: str
    kind: Literal["file", "directory"]
    size: int
    mtime: float


class OutputsResult(TypedDict):
    localDir: str
    remoteDir: str
    entries: list[OutputEntry]


class DownloadParams(TypedDict):
    profile: str
    remotePath: str
    localPath: NotRequired[str]


class DownloadResult(TypedDict):
    localPath: str
    bytes: int


class ForwardParams(TypedDict):
    profile: str
    remotePort: int
    localPort: NotRequired[int]
    # An IP address of the runtime; default: its loopback, 127.0.0.1.
    remoteHost: NotRequired[str]


class ForwardResult(TypedDict):
    localPort: int
    remotePort: int


class UnforwardParams(TypedDict):
    profile: str
    localPort: int


class SshHostParams(TypedDict):
    profile: str


class SshHostResult(TypedDict):
    alias: str
    remoteRoot: str
    configFile: str


class StatusChangedParams(TypedDict):
    status: ProfileStatus


class OutputsChangedParams(TypedDict):
    profile: str
    paths: list[str]


class ColabSessionsParams(TypedDict):
    # Google's ``colab`` client; default: COLABLINK_COLAB_CLI, then ``colab`` on PATH.
    colabCli: NotRequired[str]


class ColabSessionsResult(TypedDict):
    sessions: list[ColabRuntime]


class ConnectColabParams(TypedDict):
    """Connect through Colab's official channel: an existing session, or ``new`` creates one."""

    workspaceRoot: str
    session: NotRequired[str]
    new: NotRequired[bool]
    # For a new session: T4, L4, G4, A100, H100 (GPU) or v5e1, v6e1 (TPU); absent: CPU.
    accelerator: NotRequired[str]
    profile: NotRequired[str]
    remoteDir: NotRequired[str]
    localDir: NotRequired[str]
    colabCli: NotRequired[str]
    # Colab's login and root are root and /content; another runtime behind the channel may differ.
    username: NotRequired[str]
    remoteRoot: NotRequired[str]
    workDoneToken: NotRequired[str | int]


class ColabUsageParams(TypedDict):
    profile: str


class ColabUsageResult(TypedDict):
    """The account's compute units, where ``colab usage`` answers."""

    balance: float
    ratePerHour: float


class StopRuntimeParams(TypedDict):
    profile: str


class StopRuntimeResult(TypedDict):
    session: str
    pulled: int


class JupyterEnsureParams(TypedDict):
    profile: str


class JupyterEnsureResult(TypedDict):
    """The runtime's Jupyter server (started when none runs) through a local forward."""

    baseUrl: str
    token: str
    # The local folder that is the server's root (the remote source root) on the runtime.
    localRoot: str


class CellRunParams(TypedDict):
    """One ``# %%`` cell, run in its file's kernel on the runtime."""

    profile: str
    execId: str  # names the execOutput notifications of this cell
    path: str  # workspace-relative, ``/``-separated
    line: int  # 1-based line of the cell's first code line in the file
    code: str


class CellRestartParams(TypedDict):
    profile: str
    path: str
