"""The sync engine as the helper runs it: its states become status, its landings notifications.

The engine's own vocabulary (``retrying in N s``, ``pushing N``) maps onto the protocol's
``syncState`` plus a count; a link the engine is re-establishing shows as ``reconnecting``.
The same mapping serves an engine the helper runs itself and one a ``colablink watch`` daemon
runs, whose events arrive over the daemon's socket (``daemon/sync_feed.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from colablink.errors import SyncHalted
from colablink.helper.notifier import Notifier
from colablink.helper.protocol import Notification, OutputsChangedParams, SyncState
from colablink.helper.settings import Settings
from colablink.local.profiles import Profile
from colablink.sync.engine import SessionLike, SyncEngine
from colablink.sync.engine import SyncState as EngineState

FLUSH_TIMEOUT_S = 120.0

_KINDS: dict[str, SyncState] = {
    "idle": "idle",
    "scanning": "scanning",
    "pushing": "pushing",
    "pulling": "pulling",
    "disconnected": "disconnected",
    "retrying": "retrying",
    "halted": "halted",
    "stopped": "disconnected",
}


def protocol_state(state: EngineState) -> SyncState:
    return _KINDS.get(state.kind, "disconnected")


def engine_state(event: dict[str, Any]) -> EngineState:
    """The engine state carried by a daemon's ``{"kind", "count", "detail"}``."""
    return EngineState(
        str(event.get("kind", "disconnected")),
        int(event.get("count", 0)),
        str(event.get("detail", "")),
    )


def outputs_changed(profile: Profile, paths: list[Path]) -> OutputsChangedParams:
    """The notification for outputs that landed, with paths relative to the connection dir."""
    base = profile.local_conn_dir.resolve()
    relative: list[str] = []
    for path in paths:
        try:
            relative.append(path.resolve().relative_to(base).as_posix())
        except ValueError:
            relative.append(str(path))
    return {"profile": profile.name, "paths": relative}


class HelperSync:
    """One profile's engine, started when the profile connects and stopped when it closes."""

    def __init__(
        self,
        profile: Profile,
        connect: Callable[[], SessionLike],
        notifier: Notifier,
        on_state: Callable[[EngineState], None],
        settings: Settings,
    ) -> None:
        self.profile = profile
        self.engine = SyncEngine(
            profile,
            connect,
            excludes=settings.sync_exclude,
            debounce=max(0.0, settings.sync_debounce_s),
        )
        self._notifier = notifier
        self._on_state = on_state
        # The engine's listener lists only grow; one permanent listener each fans out to the
        # observers of the syncNow currently running.
        self._observers: list[PassObserver] = []
        self.engine.on_state(self._state_changed)
        self.engine.on_outputs(self._outputs_landed)
        self.engine.on_pushed(self._pushed)

    def _state_changed(self, state: EngineState) -> None:
        self._on_state(state)
        for observer in list(self._observers):
            observer.report(str(state))

    def _pushed(self, paths: list[str]) -> None:
        for observer in list(self._observers):
            observer.pushed += len(paths)

    def _outputs_landed(self, paths: list[Path]) -> None:
        self._notifier.send(Notification.OUTPUTS_CHANGED, outputs_changed(self.profile, paths))
        for observer in list(self._observers):
            observer.pulled += len(paths)

    def start(self) -> None:
        self.engine.start()

    def stop(self) -> None:
        self.engine.stop(timeout=5.0)

    def flush(self, paths: list[str] | None = None, timeout: float = FLUSH_TIMEOUT_S) -> None:
        """Block until pending pushes (of ``paths``) landed; raise if they could not."""
        if not self.engine.flush(paths, timeout=timeout):
            raise SyncHalted(f"Pending changes did not reach the runtime ({self.engine.state}).")

    def sync_now(self, report: Callable[[str], None]) -> tuple[int, int]:
        """One full pass both ways (blocking); ``report`` hears each step. (pushed, pulled)."""
        observer = PassObserver(report)
        self._observers.append(observer)
        try:
            self.engine.sync_once()
        finally:
            self._observers.remove(observer)
        return observer.pushed, observer.pulled


class PassObserver:
    """One syncNow: its steps go to ``report``; what it pushed and pulled is counted."""

    def __init__(self, report: Callable[[str], None]) -> None:
        self.report = report
        self.pushed = 0
        self.pulled = 0

    def on_daemon_event(self, event: dict[str, Any]) -> None:
        """The same, for the events of a pass the daemon runs."""
        if isinstance(event.get("state"), dict):
            self.report(str(engine_state(event["state"])))
        self.pushed += len(event.get("pushed", []))
        self.pulled += len(event.get("outputs", []))
