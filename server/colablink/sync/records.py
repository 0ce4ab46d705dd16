"""What sync itself placed, kept across runs: push deletes only files it placed, and pull never
overwrites a local file it did not place (or that was edited since)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from colablink.local.localfiles import write_atomic
from colablink.sync.scan import Meta


class Records:
    def __init__(self, path: Path | None, key: str = "") -> None:
        self.path = path
        # Records belong to one pair of trees: a profile re-pointed elsewhere starts afresh,
        # so it never deletes files that another project placed.
        self.key = key
        # remote-relative path (under the remote root) -> local meta when push sent it
        self.placed: dict[str, Meta] = {}
        # conn-dir-relative path -> (remote meta it came from, local meta after writing)
        self.pulled: dict[str, tuple[Meta, Meta]] = {}
        # conn-dir-relative path -> (ctime_ns, size) on the runtime of the copy pull placed;
        # only for one agent connection (a restarted runtime's clock says nothing), not saved
        self.versions: dict[str, tuple[int, int]] = {}
        # files the runtime reported as appended to, on this connection: their growth is a tail
        self.appended: set[str] = set()
        self.lock = threading.Lock()
        self.dirty = False
        self.saved_at = 0.0
        self._load()

    def _load(self) -> None:
        if self.path is None:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if data.get("key", "") != self.key:
            return
        self.placed = {k: Meta(*v) for k, v in data.get("placed", {}).items()}
        self.pulled = {k: (Meta(*r), Meta(*loc)) for k, (r, loc) in data.get("pulled", {}).items()}

    def mark(self) -> None:
        self.dirty = True

    def save(self, *, force: bool = False, every: float = 2.0) -> None:
        """Write atomically; without ``force``, at most once every ``every`` seconds."""
        if self.path is None or not self.dirty:
            return
        if not force and time.monotonic() - self.saved_at < every:
            return
        with self.lock:
            data = {
                "key": self.key,
                "placed": {k: list(v) for k, v in self.placed.items()},
                "pulled": {k: [list(r), list(loc)] for k, (r, loc) in self.pulled.items()},
            }
            self.dirty = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # 0600 like every other local file: it names the project's paths.
        write_atomic(self.path, json.dumps(data).encode("utf-8"), mode=0o600)
        self.saved_at = time.monotonic()
