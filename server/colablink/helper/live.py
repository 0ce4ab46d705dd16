"""One profile the helper holds: its connection, what is known about it, and its status shape.

State changes are pushed to the client as ``colablink/statusChanged`` from whichever thread
notices them.
"""

from __future__ import annotations

import logging
import threading

from colablink.connection import Connection
from colablink.errors import ColabLinkError
from colablink.helper.notifier import Notifier
from colablink.helper.syncing import HelperSync, protocol_state
from colablink.profiles import Profile
from colablink.protocol import (
    ConnectionState,
    GpuStatus,
    Notification,
    ProfileStatus,
    StatusChangedParams,
    SyncState,
)
from colablink.sync.engine import SyncState as EngineState

log = logging.getLogger(__name__)


class LiveProfile:
    def __init__(self, profile: Profile, notifier: Notifier) -> None:
        self.profile = profile
        self.connection = Connection(profile)
        self._notifier = notifier
        self._lock = threading.Lock()
        self.state: ConnectionState = "disconnected"
        self.latency_ms: float | None = None
        self.gpu: GpuStatus | None = None
        self.last_error: str | None = None
        self.sync_state: SyncState = "disconnected"
        self.sync_pending = 0
        self.retry_in: float | None = None
        self.sync: HelperSync | None = None

    @property
    def name(self) -> str:
        return self.profile.name

    def open(self, *, sync: bool = True) -> None:
        """Connect, probe and start syncing (blocking); raises the connection's errors."""
        self._set(state="connecting")
        self.refresh(raise_errors=True)
        if sync and self.sync is None:
            self.sync = HelperSync(
                self.profile, lambda: self.connection.session, self._notifier, self._sync_state
            )
            self.sync.start()

    def _sync_state(self, state: EngineState) -> None:
        kind = protocol_state(state)
        changes: dict[str, object] = {
            "sync_state": kind,
            "sync_pending": state.count if kind in ("pushing", "pulling") else 0,
            "retry_in": float(state.count) if kind == "retrying" else None,
        }
        if kind in ("retrying", "disconnected") and self.state == "connected":
            changes["state"] = "reconnecting"
        elif kind in ("idle", "scanning", "pushing", "pulling") and self.state == "reconnecting":
            changes["state"] = "connected"
        if state.detail and kind in ("halted", "disconnected"):
            changes["last_error"] = state.detail
        self._set(**changes)

    def refresh(self, *, raise_errors: bool = False) -> None:
        """Probe latency and GPU (blocking); reconnects if the session dropped."""
        try:
            _ = self.connection.session
        except ColabLinkError as exc:
            self._set(state="error", last_error=exc.message)
            if raise_errors:
                raise
            return
        status = self.connection.status()
        if status.reachable:
            gpu: GpuStatus | None = None
            if status.gpu is not None:
                gpu = {"name": status.gpu.name, "memoryMib": status.gpu.memory_mib}
            error = self.last_error if self.sync_state == "halted" else None
            self._set(state="connected", latency_ms=status.rtt_ms, gpu=gpu, last_error=error)
        else:
            self._set(state="error", last_error=status.problem)

    def flush_pending(self) -> None:
        """Block until local changes waiting to be pushed have landed (none without sync)."""
        if self.sync is not None:
            self.sync.flush()

    def close(self) -> None:
        sync, self.sync = self.sync, None
        if sync is not None:
            sync.stop()
        self.connection.close()
        self._set(state="disconnected", latency_ms=None)

    def _set(self, **changes: object) -> None:
        with self._lock:
            changed = {k: v for k, v in changes.items() if getattr(self, k) != v}
            for key, value in changed.items():
                setattr(self, key, value)
        if changed:
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
    }
