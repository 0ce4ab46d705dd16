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
from colablink.profiles import Profile
from colablink.protocol import (
    ConnectionState,
    GpuStatus,
    Notification,
    ProfileStatus,
    StatusChangedParams,
    SyncState,
)

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

    @property
    def name(self) -> str:
        return self.profile.name

    def open(self) -> None:
        """Connect and probe (blocking); raises the connection's ``ColabLinkError``."""
        self._set(state="connecting")
        self.refresh(raise_errors=True)

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
            self._set(state="connected", latency_ms=status.rtt_ms, gpu=gpu, last_error=None)
        else:
            self._set(state="error", last_error=status.problem)

    def set_sync(self, state: SyncState, pending: int, retry_in: float | None) -> None:
        self._set(sync_state=state, sync_pending=pending, retry_in=retry_in)

    def record_error(self, message: str) -> None:
        self._set(last_error=message)

    def flush_pending(self) -> None:
        """Block until local changes waiting to be pushed have landed (none without sync)."""

    def close(self) -> None:
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
