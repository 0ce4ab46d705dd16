"""Registers the helper's JSON-RPC handlers; each one validates its params and calls the core."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.uris import to_fs_path

from colablink.helper import logs, runs
from colablink.helper.blocking import run_blocking
from colablink.helper.code_lens import code_lenses
from colablink.helper.execs import ExecRunner
from colablink.helper.hub import Hub
from colablink.helper.lifecycle import Lifecycle
from colablink.helper.live import profile_status
from colablink.helper.outputs import list_outputs
from colablink.helper.params import require, validate
from colablink.helper.profile_watch import watch_profiles
from colablink.helper.protocol import (
    CheckConnectionInfoParams,
    CheckConnectionInfoResult,
    ConnectParams,
    DisconnectParams,
    DownloadParams,
    DownloadResult,
    ExecParams,
    ExecResult,
    FlushParams,
    ForwardParams,
    ForwardResult,
    Method,
    Notification,
    OutputsParams,
    PtyCloseParams,
    PtyInputParams,
    PtyOpenParams,
    PtyOpenResult,
    PtyResizeParams,
    RunAttachParams,
    RunsParams,
    RunsResult,
    SshHostParams,
    SshHostResult,
    StatusChangedParams,
    SyncNowParams,
    SyncNowResult,
    UnforwardParams,
)
from colablink.helper.ptys import PtyRegistry
from colablink.helper.rpc_errors import to_rpc_error
from colablink.helper.rpc_server import HelperServer
from colablink.helper.settings import Settings
from colablink.helper.transfers import Transfers

log = logging.getLogger(__name__)
P = TypeVar("P")
_PROGRESS_EVERY_S = 0.25


class Helper:
    """Everything one editor window's helper holds."""

    def __init__(self, server: HelperServer, hub: Hub, execs: ExecRunner, transfers: Transfers,
                 ptys: PtyRegistry, lifecycle: Lifecycle) -> None:  # fmt: skip
        self.server = server
        self.hub = hub
        self.execs = execs
        self.transfers = transfers
        self.ptys = ptys
        self.lifecycle = lifecycle
        self.profile_watch: asyncio.Future[None] | None = None

    @property
    def settings(self) -> Settings:
        """The hub's copy is the one profiles connect with; there is no second one to drift."""
        return self.hub.settings

    def apply_settings(self, raw: Any) -> None:
        self.hub.settings = self.hub.settings.updated(raw)
        logs.set_level(self.settings.log_level)

    async def create_progress_token(self) -> str | None:
        """A server-created work-done token, if the client can show server-initiated progress."""
        window = self.server.client_capabilities.window
        if not (window and window.work_done_progress):
            return None
        token = f"colablink-{uuid.uuid4()}"
        await self.server.work_done_progress.create_async(token)
        return token

    def progress_reporter(self, token: str | int | None) -> Callable[[str], None]:
        """Report sync steps as ``$/progress`` reports, from whichever thread runs the sync."""
        notifier = self.hub.notifier

        def report(message: str) -> None:
            if token is not None:
                notifier.progress(token, types.WorkDoneProgressReport(message=message))

        return report

    def transfer_reporter(self, token: str | None) -> Callable[[int, int], None] | None:
        """A transfer's bytes as ``$/progress`` reports, a few a second at most."""
        if token is None:
            return None
        notifier = self.hub.notifier
        last = [0.0]

        def report(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] < _PROGRESS_EVERY_S:
                return
            last[0] = now
            percent = min(100, done * 100 // total) if total else None
            message = f"{done / (1 << 20):.0f} of {total / (1 << 20):.0f} MiB"
            notifier.progress(
                token, types.WorkDoneProgressReport(message=message, percentage=percent)
            )

        return report

    def cancel_with_progress(self, token: str | None, work: asyncio.Future[Any]) -> None:
        """The progress's cancel button (``window/workDoneProgress/cancel``) cancels ``work``."""
        if token is None:
            return
        loop = asyncio.get_running_loop()
        pressed = self.server.work_done_progress.tokens.get(token)
        if pressed is not None:
            pressed.add_done_callback(lambda _: loop.call_soon_threadsafe(work.cancel))

    @contextlib.contextmanager
    def progress_span(self, token: str | int | None, title: str) -> Iterator[None]:
        """Begin and end the client's work-done progress ``token`` around a request's steps."""
        if token is not None:
            self.hub.notifier.progress(token, types.WorkDoneProgressBegin(title=title))
        try:
            yield
        finally:
            if token is not None:
                self.hub.notifier.progress(token, types.WorkDoneProgressEnd())

    def profiles_changed(self) -> None:
        """A profile was made or rewritten elsewhere: show its lenses, and tell the editor."""
        self.refresh_code_lenses()
        for profile in self.hub.workspace_profiles():
            if profile.name not in self.hub.live:
                params: StatusChangedParams = {"status": profile_status(profile)}
                self.hub.notifier.send(Notification.STATUS_CHANGED, params)

    def refresh_code_lenses(self) -> None:
        capabilities = self.server.client_capabilities.workspace
        if capabilities and capabilities.code_lens and capabilities.code_lens.refresh_support:
            self.server.workspace_code_lens_refresh(None)


def register_request(
    server: HelperServer,
    method: str,
    shape: type[P],
    handle: Callable[[P], Awaitable[Any]],
) -> None:
    """Register ``method``: validate against ``shape``, run ``handle``, map errors to codes."""

    async def handler(params: Any) -> Any:
        try:
            return await handle(validate(params, shape))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise to_rpc_error(exc, method) from None

    handler.__name__ = method.replace("/", "_")
    server.feature(method)(handler)


def register(helper: Helper) -> None:
    server, hub = helper.server, helper.hub

    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        folders = params.workspace_folders or []
        root_uri = params.root_uri or (folders[0].uri if folders else None)
        root = to_fs_path(root_uri) if root_uri else params.root_path
        if root:
            hub.workspace_root = Path(root)
        helper.apply_settings(params.initialization_options)
        helper.profile_watch = asyncio.ensure_future(
            watch_profiles(hub.store.directory, helper.profiles_changed)
        )

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
        helper.apply_settings(params.settings)

    @server.feature(types.SHUTDOWN)
    async def shutdown(_: None) -> None:
        await helper.lifecycle.shutdown()

    @server.feature(types.EXIT)
    def exit_(_: None) -> None:
        helper.lifecycle.close_now()

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS, types.CodeLensOptions(resolve_provider=False))
    def code_lens(params: types.CodeLensParams) -> list[types.CodeLens]:
        root = hub.workspace_root
        path = to_fs_path(params.text_document.uri)
        if not helper.settings.code_lens or root is None or path is None:
            return []
        try:
            relative = Path(path).resolve().relative_to(root.resolve())
        except ValueError:
            return []
        if not hub.has_workspace_profile():
            return []
        try:
            text = server.workspace.get_text_document(params.text_document.uri).source
        except OSError:
            return []
        return code_lenses(text, relative.as_posix())

    async def connect(params: ConnectParams) -> Any:
        token = params.get("workDoneToken")
        report = helper.progress_reporter(token)

        def step(message: str) -> None:
            log.info("Connect: %s", message)
            report(message)

        with helper.progress_span(token, "ColabLink: connecting"):
            status = await hub.connect(params, step)
        helper.refresh_code_lenses()
        return status

    async def check_connection_info(params: CheckConnectionInfoParams) -> CheckConnectionInfoResult:
        from colablink.enroll.connection_info import parse_connection_info

        info = parse_connection_info(params["connectionInfo"])
        return {"host": info.host, "port": info.port, "username": info.username}

    async def disconnect(params: DisconnectParams) -> None:
        helper.ptys.close_profile(params["profile"])
        await hub.disconnect(params["profile"], forget=params.get("forget", False))
        helper.refresh_code_lenses()

    async def status(_: dict[str, Any]) -> Any:
        return await hub.status()

    async def exec_(params: ExecParams) -> ExecResult:
        live = await hub.held(params["profile"])
        return {"exitCode": await helper.execs.run(live, params)}

    async def runs_list(params: RunsParams) -> RunsResult:
        return await runs.list_runs(await hub.held(params["profile"]))

    async def run_attach(params: RunAttachParams) -> ExecResult:
        return await runs.attach(await hub.held(params["profile"]), helper.execs, params)

    def require_size(params: PtyOpenParams | PtyResizeParams) -> None:
        ok = params["cols"] > 0 and params["rows"] > 0
        require(ok, "params.cols and params.rows must be positive.")

    async def pty_open(params: PtyOpenParams) -> PtyOpenResult:
        require_size(params)
        live = await hub.held(params["profile"])
        pty_id = await run_blocking(
            lambda: helper.ptys.open(live, params["cols"], params["rows"], params.get("cwd"))
        )
        return {"ptyId": pty_id}

    async def pty_input(params: PtyInputParams) -> None:
        helper.ptys.write(params["ptyId"], params["data"])

    async def pty_resize(params: PtyResizeParams) -> None:
        require_size(params)
        helper.ptys.resize(params["ptyId"], params["cols"], params["rows"])

    async def pty_close(params: PtyCloseParams) -> None:
        helper.ptys.close(params["ptyId"])

    async def flush(params: FlushParams) -> None:
        live = await hub.held(params["profile"])
        paths = params.get("paths")
        await run_blocking(lambda: live.flush(paths))

    async def sync_now(params: SyncNowParams) -> SyncNowResult:
        live = await hub.held(params["profile"])
        token = params.get("workDoneToken")
        if token is None:
            token = await helper.create_progress_token()
        report = helper.progress_reporter(token)
        if token is not None:
            title = f"ColabLink: syncing {params['profile']}"
            hub.notifier.progress(token, types.WorkDoneProgressBegin(title=title))
        try:
            pushed, pulled = await run_blocking(lambda: live.sync_now(report))
        finally:
            if token is not None:
                hub.notifier.progress(token, types.WorkDoneProgressEnd(message="done"))
        return {"pushed": pushed, "pulled": pulled}

    async def outputs(params: OutputsParams) -> Any:
        profile = hub.store.load(params["profile"])
        return await run_blocking(lambda: list_outputs(profile, params.get("path")))

    async def download(params: DownloadParams) -> DownloadResult:
        live = await hub.held(params["profile"])
        given = params.get("localPath")
        target = Path(given) if given else live.profile.local_conn_dir
        remote = params["remotePath"]
        token = await helper.create_progress_token()
        if token is not None:
            begin = types.WorkDoneProgressBegin(
                title=f"ColabLink: downloading {remote}", cancellable=True, percentage=0
            )
            hub.notifier.progress(token, begin)
        try:
            report = helper.transfer_reporter(token)
            work = asyncio.ensure_future(
                helper.transfers.run(lambda cancel: live.download(remote, target, cancel, report))
            )
            helper.cancel_with_progress(token, work)
            written = await work
        finally:
            if token is not None:
                hub.notifier.progress(token, types.WorkDoneProgressEnd())
        size = await run_blocking(lambda: _tree_size(written))
        return {"localPath": str(written), "bytes": size}

    async def forward(params: ForwardParams) -> ForwardResult:
        remote_port, local_port = params["remotePort"], params.get("localPort", 0)
        remote_host = params.get("remoteHost", "127.0.0.1")
        require(0 < remote_port < 65536, "params.remotePort must be a port number (1-65535).")
        require(0 <= local_port < 65536, "params.localPort must be a port number (0-65535).")
        require(is_ip_address(remote_host), "params.remoteHost must be an IP address.")
        live = await hub.held(params["profile"])
        port = await run_blocking(lambda: live.forward(remote_port, local_port, remote_host))
        return {"localPort": port, "remotePort": remote_port}

    async def unforward(params: UnforwardParams) -> None:
        live = await hub.held(params["profile"])
        stopped = await run_blocking(lambda: live.unforward(params["localPort"]))
        require(stopped, f"no forward is open on local port {params['localPort']}.")

    async def ssh_host(params: SshHostParams) -> SshHostResult:
        from colablink.local import paths

        profile = hub.store.load(params["profile"])
        config = profile.ssh_config or paths.ssh_config_path()
        return {
            "alias": profile.ssh_alias,
            "remoteRoot": profile.remote_root,
            "configFile": str(config),
        }

    register_request(server, Method.CONNECT, ConnectParams, connect)
    register_request(server, Method.DISCONNECT, DisconnectParams, disconnect)
    register_request(server, Method.STATUS, dict, status)
    register_request(server, Method.EXEC, ExecParams, exec_)
    register_request(server, Method.RUNS, RunsParams, runs_list)
    register_request(server, Method.RUN_ATTACH, RunAttachParams, run_attach)
    register_request(server, Method.PTY_OPEN, PtyOpenParams, pty_open)
    register_request(server, Method.PTY_INPUT, PtyInputParams, pty_input)
    register_request(server, Method.PTY_RESIZE, PtyResizeParams, pty_resize)
    register_request(server, Method.PTY_CLOSE, PtyCloseParams, pty_close)
    register_request(server, Method.FLUSH, FlushParams, flush)
    register_request(server, Method.SYNC_NOW, SyncNowParams, sync_now)
    register_request(server, Method.OUTPUTS, OutputsParams, outputs)
    register_request(server, Method.DOWNLOAD, DownloadParams, download)
    register_request(server, Method.FORWARD, ForwardParams, forward)
    register_request(server, Method.UNFORWARD, UnforwardParams, unforward)
    register_request(server, Method.SSH_HOST, SshHostParams, ssh_host)
    register_request(
        server, Method.CHECK_CONNECTION_INFO, CheckConnectionInfoParams, check_connection_info
    )
    # Imported here: these requests build on this module's Helper and register_request.
    from colablink.helper import colab_requests, notebook_requests

    colab_requests.register(helper)
    notebook_requests.register(helper)


def is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
