"""One profile the helper holds: its connection, what is known about it, and its status shape.

The remote work goes either through the helper's own ``Connection`` (and its own sync engine),
or, when a ``colablink watch`` daemon already holds the profile, through that daemon's socket:
then flush and syncNow run on the daemon's engine, whose state and landed outputs a follower
thread turns into status and ``outputsChanged`` like the helper's own engine. When the daemon
stops, the window connects and syncs itself; when one comes up while the window holds the
profile, the window hands the profile over to it. State changes are pushed to the client as
``colablink/statusChanged`` from whichever thread notices them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from colablink.connection import Connection, Status
from colablink.daemon.address import window_socket_path
from colablink.daemon.client import DaemonClient
from colablink.daemon.link import DaemonLink, DaemonUnavailable
from colablink.enroll import colab_account
from colablink.errors import ColabLinkError, UsageError
from colablink.helper.notifier import Notifier
from colablink.helper.protocol import (
    ColabRuntime,
    ConnectionState,
    GpuStatus,
    Notification,
    ProfileStatus,
    ResourcesStatus,
    RuntimePort,
    StatusChangedParams,
    SyncState,
)
from colablink.helper.proxy_socket import ProxySocket
from colablink.helper.runtime_ports import PortWatch
from colablink.helper.settings import Settings
from colablink.helper.syncing import (
    FLUSH_TIMEOUT_S,
    HelperSync,
    PassObserver,
    engine_state,
    outputs_changed,
    protocol_state,
)
from colablink.helper.terminals import ChannelTerminal, Terminal
from colablink.local.profiles import Profile
from colablink.ports import owners_command
from colablink.resources import Resources
from colablink.ssh.runs import RunInfo
from colablink.sync.engine import SyncState as EngineState

log = logging.getLogger(__name__)

# How often a connected profile's resources are probed: one short command on the status channel.
RESOURCES_INTERVAL_S = 5.0


class LiveProfile:
    def __init__(self, profile: Profile, notifier: Notifier, settings: Settings) -> None:
        self.profile = profile
        self._settings = settings
        # Commands go through the runtime's run supervisor, one channel for them all.
        self.connection = Connection(profile)
        self._notifier = notifier
        self._lock = threading.Lock()
        self.state: ConnectionState = "disconnected"
        self.latency_ms: float | None = None
        self.gpu: GpuStatus | None = None
        self.resources: ResourcesStatus | None = None
        self.ports: list[RuntimePort] = []
        self._port_watch = PortWatch(self._owners_output)
        self.last_error: str | None = None
        self.sync_state: SyncState = "disconnected"
        self.sync_pending = 0
        self.retry_in: float | None = None
        self.sync: HelperSync | None = None
        self.daemon: DaemonLink | None = None
        # The daemon's sync events, while an daemon holds the profile.
        self._follower: DaemonClient | None = None
        self._closed = False
        self._take_over_lock = threading.Lock()
        # While this window holds the connection itself, `colablink proxy` rides it too.
        self._proxy_socket: ProxySocket | None = None

    @property
    def name(self) -> str:
        return self.profile.name

    def open(self) -> None:
        """Use the profile's daemon if one is up, else connect and sync (blocking)."""
        self._set(state="connecting")
        self.daemon = DaemonLink.find(self.name)
        if self.daemon is not None:
            log.info("Profile %s is held by its daemon; using its socket", self.name)
        self.refresh(raise_errors=True)
        if self.daemon is None:
            self._start_sync()
        else:
            self._follow_daemon_sync(self.daemon)
        threading.Thread(
            target=self._watch_resources, name=f"colablink-resources-{self.name}", daemon=True
        ).start()

    def _watch_resources(self) -> None:
        """Probe every few seconds while the link is up; a drop is the sync engine's to tell."""
        stop = threading.Event()
        while not self._closed and not stop.wait(RESOURCES_INTERVAL_S):
            self._hand_over_to_a_daemon()
            if self.state == "connected" and self.sync_state not in ("retrying", "disconnected"):
                self.refresh(quiet=True)

    def _start_sync(self) -> None:
        with self._take_over_lock:
            if self.sync is not None or self._closed:
                return
            self._serve_proxy()
            self.sync = HelperSync(
                self.profile,
                lambda: self.connection.session,
                self._notifier,
                self._sync_state,
                self._settings,
            )
        self.sync.start()

    def _take_over(self) -> None:
        """The daemon stopped: this window connects itself and syncs the profile."""
        with self._take_over_lock:
            if self.daemon is not None:
                log.info("The daemon for %s stopped; connecting directly", self.name)
            self.daemon = None
            if self._closed:
                return
        _ = self.connection.session
        self._start_sync()

    def _hand_over_to_a_daemon(self) -> None:
        """A ``watch`` daemon came up while this window held the profile: the daemon takes over.

        Its session rode this window's connection (Colab's channel takes one); closing ours makes
        it redial on the profile's transport, now free, and this window follows the daemon.
        """
        if self.daemon is not None or self.sync is None:
            return
        daemon = DaemonLink.find(self.name)
        if daemon is None:
            return
        with self._take_over_lock:
            if self.daemon is not None or self._closed:
                return
            log.info("A daemon now holds %s; handing the profile over to it", self.name)
            self.daemon = daemon
            proxy, self._proxy_socket = self._proxy_socket, None
            sync, self.sync = self.sync, None
        if proxy is not None:
            proxy.close()
        if sync is not None:
            sync.stop()
        self.connection.close()
        self._follow_daemon_sync(daemon)

    def _follow_daemon_sync(self, daemon: DaemonLink) -> None:
        """Mirror the daemon's sync state and landed outputs, as if this window synced."""
        try:
            follower, current = daemon.follow_sync()
        except DaemonUnavailable:
            self._take_over()
            return
        except ColabLinkError as exc:
            # An daemon started with --no-sync: nobody syncs this profile.
            log.info("The daemon for %s does not sync: %s", self.name, exc.message)
            return
        self._follower = follower
        self._daemon_event(current)
        threading.Thread(
            target=self._daemon_events,
            args=(follower,),
            name=f"colablink-daemon-sync-{self.name}",
            daemon=True,
        ).start()

    def _daemon_events(self, follower: DaemonClient) -> None:
        for event in follower.events():
            self._daemon_event(event)
        if self._closed or self._follower is not follower:
            return
        # The daemon stopped (its stream ended): this window takes the profile over.
        try:
            self._take_over()
        except ColabLinkError as exc:
            self._set(state="error", last_error=exc.message, sync_state="disconnected")

    def _daemon_event(self, event: dict[str, Any]) -> None:
        if isinstance(event.get("state"), dict):
            self._sync_state(engine_state(event["state"]))
        landed = event.get("outputs")
        if isinstance(landed, list) and landed:
            paths = [Path(str(p)) for p in landed]
            self._notifier.send(Notification.OUTPUTS_CHANGED, outputs_changed(self.profile, paths))

    def _probe(self) -> Status:
        if self.daemon is not None:
            try:
                return Status.from_dict(self.daemon.call({"op": "status"}))
            except DaemonUnavailable:
                self._take_over()
        _ = self.connection.session  # connects, raising the one-sentence error if it cannot
        return self.connection.status()

    def exec(
        self,
        command: list[str] | str,
        *,
        on_stdout: Callable[[bytes], None],
        on_stderr: Callable[[bytes], None],
        cancel: threading.Event,
        detach: threading.Event | None = None,
        on_notice: Callable[[str], object] | None = None,
    ) -> int:
        if self.daemon is not None:
            try:
                return self.daemon.exec(
                    command, on_stdout=on_stdout, on_stderr=on_stderr, cancel=cancel
                )
            except DaemonUnavailable:
                self._take_over()
        return self.connection.exec(
            command,
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            cancel=cancel,
            detach=detach,
            on_notice=on_notice,
        )

    def runs(self) -> list[RunInfo]:
        """The supervisor's runs, through the daemon when it holds the profile."""
        if self.daemon is not None:
            try:
                return self.daemon.runs()
            except DaemonUnavailable:
                self._take_over()
        return self.connection.runs()

    def start_detached(self, command: list[str] | str) -> str:
        """Start a run and return its id at once, through the daemon when it holds the profile."""
        result = self._daemon_call({"op": "start", "command": command})
        if result is not None:
            return str(result["id"])
        return self.connection.start_detached(command)

    def kill(self, run_id: str, signal_name: str = "TERM") -> bool:
        """Signal a run's process group; whether it was still running."""
        result = self._daemon_call({"op": "kill", "id": run_id, "signal": signal_name})
        if result is not None:
            return bool(result.get("running"))
        return self.connection.kill(run_id, signal_name)

    def attach(
        self,
        run_id: str,
        *,
        on_stdout: Callable[[bytes], None],
        on_stderr: Callable[[bytes], None],
        from_pos: int,
        cancel: threading.Event,
        detach: threading.Event,
        on_notice: Callable[[str], object],
    ) -> int:
        """Follow a run to its end from byte ``from_pos``, through the daemon when it holds the
        profile; ``cancel`` interrupts it, ``detach`` leaves it running."""
        if self.daemon is not None:
            try:
                return self.daemon.attach(
                    run_id,
                    on_stdout=on_stdout,
                    on_stderr=on_stderr,
                    from_pos=from_pos,
                    cancel=cancel,
                    detach=detach,
                    on_notice=on_notice,
                )
            except DaemonUnavailable:
                self._take_over()
        code = self.connection.attach(
            run_id,
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            from_pos=from_pos,
            cancel=cancel,
            detach=detach,
            on_notice=on_notice,
        )
        assert code is not None  # followed to its end
        return code

    def _daemon_call(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """The daemon's answer, or None when there is no daemon (any more) and we work directly."""
        if self.daemon is None:
            return None
        try:
            return self.daemon.call(request)
        except DaemonUnavailable:
            self._take_over()
            return None

    def flush(self, paths: list[str] | None) -> None:
        """Block until pending pushes (of ``paths``) landed on the runtime, whoever syncs."""
        request = {"op": "flush", "paths": paths, "timeout": FLUSH_TIMEOUT_S}
        if self._daemon_call(request) is None:
            self._own_sync().flush(paths)

    def sync_now(self, report: Callable[[str], None]) -> tuple[int, int]:
        """One full pass both ways (blocking); ``report`` hears each step. (pushed, pulled)."""
        if self.daemon is not None:
            observer = PassObserver(report)
            try:
                self.daemon.call({"op": "sync_now"}, on_event=observer.on_daemon_event)
                return observer.pushed, observer.pulled
            except DaemonUnavailable:
                self._take_over()
        return self._own_sync().sync_now(report)

    def _own_sync(self) -> HelperSync:
        if self.sync is None:
            raise UsageError(f"Profile {self.name!r} is not syncing in this window.")
        return self.sync

    def open_terminal(self, cols: int, rows: int, directory: str) -> Terminal:
        """A login shell on a PTY in ``directory``: the daemon's if it holds the profile."""
        if self.daemon is not None:
            try:
                return self.daemon.open_pty(cols, rows, directory)
            except DaemonUnavailable:
                self._take_over()
        return ChannelTerminal(self.connection.open_shell(cols, rows, directory))

    def download(
        self,
        remote: str,
        local: Path,
        cancel: threading.Event,
        progress: Callable[[int, int], None] | None = None,
    ) -> Path:
        """Copy a remote file or tree here; ``cancel`` stops it with nothing left behind."""
        if self.daemon is not None:
            request = {"op": "download", "remote": remote, "local": str(local)}
            try:
                return Path(str(self.daemon.transfer(request, cancel, progress)["path"]))
            except DaemonUnavailable:
                self._take_over()
        return self.connection.download(remote, local, progress, cancel)

    def forward(self, remote_port: int, local_port: int, remote_host: str) -> int:
        request = {
            "op": "forward",
            "remote_port": remote_port,
            "local_port": local_port,
            "remote_host": remote_host,
        }
        result = self._daemon_call(request)
        if result is not None:
            return int(result["local_port"])
        return self.connection.forward(remote_port, local_port, remote_host)

    def _owners_output(self, inodes: list[int]) -> str:
        """Which processes hold these sockets; empty when the runtime cannot say."""
        out: list[bytes] = []
        try:
            self.exec(
                owners_command(inodes),
                on_stdout=out.append,
                on_stderr=lambda _: None,
                cancel=threading.Event(),
            )
        except ColabLinkError as exc:
            log.debug("Looking up the runtime's listening processes: %s", exc.message)
        return b"".join(out).decode(errors="replace")

    def unforward(self, local_port: int) -> bool:
        result = self._daemon_call({"op": "unforward", "local_port": local_port})
        if result is not None:
            return bool(result["stopped"])
        return self.connection.unforward(local_port)

    def _sync_state(self, state: EngineState) -> None:
        kind = protocol_state(state)
        changes: dict[str, object] = {
            "sync_state": kind,
            "sync_pending": state.count if kind in ("pushing", "pulling") else 0,
            "retry_in": float(state.count) if kind == "retrying" else None,
        }
        if kind in ("retrying", "disconnected") and self.state == "connected":
            changes["state"] = "reconnecting"
        elif kind in ("idle", "pushing", "pulling") and self.state == "reconnecting":
            # Not "scanning": the engine says that before each try, not only once it got through.
            changes["state"] = "connected"
        if state.detail and kind in ("halted", "disconnected"):
            changes["last_error"] = state.detail
        self._set(**changes)

    def refresh(self, *, raise_errors: bool = False, quiet: bool = False) -> None:
        """Probe latency, GPU and resources (blocking); reconnects if the session dropped.

        ``quiet`` (the periodic probe) leaves the state alone when the probe fails."""
        try:
            status = self._probe()
        except ColabLinkError as exc:
            if not quiet:
                self._set(state="error", last_error=exc.message)
            if raise_errors:
                raise
            return
        if status.reachable:
            gpu: GpuStatus | None = None
            if status.gpu is not None:
                gpu = {"name": status.gpu.name, "memoryMib": status.gpu.memory_mib}
            error = self.last_error if self.sync_state == "halted" else None
            listening = status.listening
            ports = self.ports if listening is None else self._port_watch.update(listening)
            self._set(
                ports=ports,
                state="connected",
                latency_ms=status.rtt_ms,
                gpu=gpu,
                last_error=error,
                resources=resources_status(status.resources),
            )
        elif not quiet:
            self._set(state="error", last_error=status.problem, resources=None)

    def flush_pending(self) -> None:
        """Block until local changes waiting to be pushed have landed (none without sync)."""
        if self.sync is not None:
            self.sync.flush()

    def _serve_proxy(self) -> None:
        proxy = ProxySocket(self.connection, window_socket_path(self.name))
        if proxy.start():
            self._proxy_socket = proxy

    def close(self) -> None:
        self._closed = True
        proxy, self._proxy_socket = self._proxy_socket, None
        if proxy is not None:
            proxy.close()
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.close()
        sync, self.sync = self.sync, None
        if sync is not None:
            sync.stop()
        self.connection.close()
        self._set(state="disconnected", latency_ms=None, resources=None, ports=[])

    def _set(self, **changes: object) -> None:
        with self._lock:
            changed = {k: v for k, v in changes.items() if getattr(self, k) != v}
            for key, value in changed.items():
                setattr(self, key, value)
        # A new latency sample alone is not a change of state worth announcing.
        if set(changed) - {"latency_ms"}:
            params: StatusChangedParams = {"status": self.status()}
            self._notifier.send(Notification.STATUS_CHANGED, params)

    def status(self) -> ProfileStatus:
        return profile_status(
            self.profile,
            state=self.state,
            latency_ms=self.latency_ms,
            gpu=self.gpu,
            sync_state=self.sync_state,
            sync_pending=self.sync_pending,
            retry_in=self.retry_in,
            last_error=self.last_error,
            resources=self.resources,
            ports=self.ports,
        )


def profile_status(
    profile: Profile,
    *,
    state: ConnectionState = "disconnected",
    latency_ms: float | None = None,
    gpu: GpuStatus | None = None,
    sync_state: SyncState = "disconnected",
    sync_pending: int = 0,
    retry_in: float | None = None,
    last_error: str | None = None,
    resources: ResourcesStatus | None = None,
    ports: list[RuntimePort] | None = None,
) -> ProfileStatus:
    return {
        "profile": profile.name,
        "state": state,
        "host": profile.host,
        "port": profile.port,
        "remoteRoot": profile.remote_root,
        "remoteDir": profile.remote_conn_dir,
        "localDir": str(profile.local_conn_dir),
        "latencyMs": latency_ms,
        "gpu": gpu,
        "syncState": sync_state,
        "syncPending": sync_pending,
        "retryInSeconds": retry_in,
        "lastError": last_error,
        "resources": resources,
        "ports": ports or [],
        "colab": colab_runtime(profile),
    }


def colab_runtime(profile: Profile) -> ColabRuntime | None:
    """The profile's Colab session and its accelerator, read from the client's state file."""
    found = colab_account.session_of(profile.proxy_command)
    if found is None:
        return None
    try:
        known = {s.name: s.accelerator for s in colab_account.sessions()}
    except ColabLinkError:
        known = {}
    return {"session": found[1], "accelerator": known.get(found[1], "NONE")}


def resources_status(found: Resources | None) -> ResourcesStatus | None:
    if found is None:
        return None
    return {
        "gpuMemoryUsedMib": found.gpu_memory_used_mib,
        "gpuMemoryTotalMib": found.gpu_memory_total_mib,
        "gpuUtilizationPct": found.gpu_utilization_pct,
        "ramTotalBytes": found.ram_total_bytes,
        "ramAvailableBytes": found.ram_available_bytes,
        "diskTotalBytes": found.disk_total_bytes,
        "diskFreeBytes": found.disk_free_bytes,
    }
