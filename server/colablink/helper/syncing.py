"""The sync engine as the helper runs it: its states become status, its landings notifications.

The engine's own vocabulary (``retrying in N s``, ``pushing N``) maps onto the protocol's
``syncState`` plus a count; a link the engine is re-establishing shows as ``reconnecting``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from colablink.errors import SyncHalted
from colablink.helper.notifier import Notifier
from colablink.helper.settings import Settings
from colablink.profiles import Profile
from colablink.protocol import Notification, OutputsChangedParams, SyncState
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
        self._observers: list[_PassObserver] = []
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
        base = self.profile.local_conn_dir.resolve()
        relative: list[str] = []
        for path in paths:
            try:
                relative.append(path.resolve().relative_to(base).as_posix())
            except ValueError:
                relative.append(str(path))
        params: OutputsChangedParams = {"profile": self.profile.name, "paths": relative}
        self._notifier.send(Notification.OUTPUTS_CHANGED, params)
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
        observer = _PassObserver(report)
        self._observers.append(observer)
        try:
            self.engine.sync_once()
        finally:
            self._observers.remove(observer)
        return observer.pushed, observer.pulled


class _PassObserver:
    def __init__(self, report: Callable[[str], None]) -> None:
        self.report = report
        self.pushed = 0
        self.pulled = 0
