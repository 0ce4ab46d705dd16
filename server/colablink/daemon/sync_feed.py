"""The daemon's sync engine as events for its socket's clients: state, outputs and pushes landed.

The engine's listener lists only grow, so the feed registers one permanent listener of each kind
and fans every event out to whoever is subscribed at that moment. Events are JSON-ready dicts:
``{"state": {"kind", "count", "detail"}}``, ``{"outputs": [local path, ...]}`` and
``{"pushed": [project-relative path, ...]}``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from colablink.sync.engine import SyncEngine, SyncState

Event = dict[str, Any]


def state_event(state: SyncState) -> Event:
    return {"state": {"kind": state.kind, "count": state.count, "detail": state.detail}}


class SyncFeed:
    def __init__(self, engine: SyncEngine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[Event], None]] = []
        engine.on_state(lambda state: self._publish(state_event(state)))
        engine.on_outputs(lambda paths: self._publish({"outputs": [str(p) for p in paths]}))
        engine.on_pushed(lambda rels: self._publish({"pushed": list(rels)}))

    def current_state(self) -> Event:
        return state_event(self.engine.state)

    @contextmanager
    def subscribed(self, callback: Callable[[Event], None]) -> Iterator[None]:
        with self._lock:
            self._subscribers.append(callback)
        try:
            yield
        finally:
            with self._lock:
                self._subscribers.remove(callback)

    def _publish(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback(event)
