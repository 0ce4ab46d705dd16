"""An overflow of the local watcher's inotify queue is a rescan, never a loss.

The kernel reads ``max_queued_events`` when an inotify instance is created, so the limit is
lowered only around the watcher's start (restored at once) to give this engine a tiny queue.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from colablink.sync.engine import SyncEngine
from conftest import SyncBed, tree_digest
from support import wait_for

QUEUE_LIMIT = Path("/proc/sys/fs/inotify/max_queued_events")

# Every inotify instance made on the machine while the limit is low gets the tiny queue.
pytestmark = pytest.mark.alone


@contextmanager
def small_inotify_queue(events: int) -> Iterator[None]:
    saved = QUEUE_LIMIT.read_text()
    QUEUE_LIMIT.write_text(str(events))
    try:
        yield
    finally:
        QUEUE_LIMIT.write_text(saved)


def same_sources(bed: SyncBed) -> bool:
    def skip(rel: str) -> bool:
        return rel == "outputs" or rel.startswith("outputs/")

    try:
        return tree_digest(bed.remote, skip) == tree_digest(bed.project, skip)
    except OSError:
        return False


def test_an_overflowed_queue_loses_no_edit(bed: SyncBed, caplog: pytest.LogCaptureFixture) -> None:
    for d in range(5):
        (bed.project / f"d{d}").mkdir()
        (bed.project / f"d{d}" / "seed.txt").write_text("seed\n")
    engine: SyncEngine = bed.engine()
    with small_inotify_queue(16):
        engine.start()
    wait_for(lambda: str(engine.state) == "idle", 30, "the first pass")
    assert same_sources(bed)

    caplog.set_level(logging.WARNING, logger="watchdog.observers.inotify_c")
    # Far more events than the queue holds, in one burst: new files, edits, new directories.
    for d in range(5):
        (bed.project / f"d{d}" / "seed.txt").write_text(f"edited {d}\n")
        for i in range(40):
            (bed.project / f"d{d}" / f"f{i}.txt").write_text(f"{d}/{i}\n")
        sub = bed.project / f"d{d}" / "new"
        sub.mkdir()
        (sub / "deep.txt").write_text("deep\n")
    wait_for(lambda: same_sources(bed), 30, "every edit to reach the runtime after the overflow")
    assert any("overflowed" in r.getMessage() for r in caplog.records), "no overflow happened"
    assert (bed.remote / "d4" / "seed.txt").read_text() == "edited 4\n"
