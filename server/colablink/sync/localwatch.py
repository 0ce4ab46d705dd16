"""Local change events (watchdog) coalesced into a set of dirty paths for push.

A file is ready as soon as it is closed after writing; deletes, moves and new directories are
ready at once; a write with no close yet waits at most the debounce ceiling.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from colablink.sync.ignore import IgnoreRules
from colablink.sync.scan import is_temp

# A write ends with its close; an attribute change (chmod) is complete at once.
WATCHED_EVENTS = (
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
)


# watchdog rebuilds its watches after the kernel's queue overflowed but tells its handlers
# nothing; its warning on this logger is the only signal, and lost events mean a full rescan.
INOTIFY_LOGGER = "watchdog.observers.inotify_c"
OVERFLOW_TEXT = "Inotify queue overflowed"


class OverflowSignal(logging.Handler):
    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self.on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(OVERFLOW_TEXT):
            self.on_overflow()


class LocalWatch(FileSystemEventHandler):
    def __init__(self, root: Path, rules: IgnoreRules, cond: threading.Condition) -> None:
        self.root = str(root)
        self.rules = rules
        self.cond = cond
        self.pending: dict[str, tuple[float, bool]] = {}  # path -> (first seen, ready)
        self.moves: list[tuple[str, str]] = []
        self.on_rules_changed: Callable[[], None] | None = None
        self.on_overflow: Callable[[], None] | None = None
        self._overflow = OverflowSignal(self._overflowed)
        self.observer: Any = None  # watchdog ships no type information

    def start(self) -> None:
        inotify_log = logging.getLogger(INOTIFY_LOGGER)
        if not inotify_log.isEnabledFor(logging.WARNING):
            inotify_log.setLevel(logging.WARNING)
        inotify_log.addHandler(self._overflow)
        observer = Observer()
        # Only changes, at the source: opens, reads and close-without-write (ours included,
        # e.g. reading a .gitignore) must never wake the worker.
        observer.schedule(self, self.root, recursive=True, event_filter=list(WATCHED_EVENTS))
        observer.daemon = True
        observer.start()
        self.observer = observer

    def stop(self) -> None:
        logging.getLogger(INOTIFY_LOGGER).removeHandler(self._overflow)
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(5)
            self.observer = None

    def _overflowed(self) -> None:
        with self.cond:
            if self.on_overflow is not None:
                self.on_overflow()
            self.cond.notify_all()

    def _rel(self, path: str | bytes) -> str | None:
        text = os.fsdecode(path)
        rel = os.path.relpath(text, self.root)
        if rel == "." or rel.startswith("../") or rel == "..":
            return None
        rel = rel.replace(os.sep, "/")
        if is_temp(rel.rsplit("/", 1)[-1]):
            return None
        return rel

    def on_any_event(self, event: FileSystemEvent) -> None:
        # Runs on watchdog's thread. Every rule decision (which may read an ignore file or ask
        # git) is made before taking ``cond``, which the worker needs.
        rel = self._rel(event.src_path)
        moved = isinstance(event, FileMovedEvent | DirMovedEvent)
        dst = self._rel(event.dest_path) if moved else None
        rules_changed = False
        if not isinstance(event, FileModifiedEvent):
            for path in (rel, dst):
                if path is not None and self.rules.is_rule_file(path):
                    rules_changed = self.rules.changed(path) or rules_changed
        is_dir = event.is_directory
        marks: list[tuple[str, bool]] = []
        if rel is not None and not self.rules.ignored(rel, is_dir):
            # A write without a close waits for the close or the debounce ceiling.
            marks.append((rel, not isinstance(event, FileCreatedEvent | FileModifiedEvent)))
        if dst is not None and not self.rules.ignored(dst, is_dir):
            marks.append((dst, True))
        if not marks and not rules_changed:
            return
        with self.cond:
            for path, ready in marks:
                self.mark(path, ready=ready)
            if moved and len(marks) == 2 and rel is not None and dst is not None:
                self.moves.append((rel, dst))
            if rules_changed and self.on_rules_changed is not None:
                self.on_rules_changed()
            self.cond.notify_all()

    def mark(self, rel: str, *, ready: bool) -> None:
        """Call with ``cond`` held."""
        first, was_ready = self.pending.get(rel, (time.monotonic(), False))
        self.pending[rel] = (first, was_ready or ready)

    def force_all(self) -> None:
        for rel, (first, _) in list(self.pending.items()):
            self.pending[rel] = (first, True)

    def clear(self) -> None:
        self.pending.clear()
        self.moves.clear()

    def has_ready(self, debounce: float) -> bool:
        now = time.monotonic()
        return bool(self.moves) or any(
            ready or now - first >= debounce for first, ready in self.pending.values()
        )

    def next_deadline(self, debounce: float) -> float | None:
        if not self.pending:
            return None
        oldest = min(first for first, _ in self.pending.values())
        return max(0.0, oldest + debounce - time.monotonic())

    def take_ready(self, debounce: float) -> tuple[list[str], list[tuple[str, str]]]:
        now = time.monotonic()
        ready = [
            rel
            for rel, (first, is_ready) in self.pending.items()
            if is_ready or now - first >= debounce
        ]
        for rel in ready:
            del self.pending[rel]
        moves, self.moves = self.moves, []
        return ready, moves
