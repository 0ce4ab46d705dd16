"""Dropped connections mid-sync: resume, and end with identical trees and no partial files."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

from conftest import SyncBed, temp_files, tree_digest
from support import pids_of_user, wait_for

from bench.delay_proxy import DelayProxy

SEED = 20260
MB = 1024 * 1024


def make_tree(root: Path, rng: random.Random) -> int:
    """About 200 MB: a few large files, a middle band, and many small ones."""
    total = 0
    sizes = [rng.randint(6 * MB, 14 * MB) for _ in range(12)]
    sizes += [rng.randint(200 * 1024, 2 * MB) for _ in range(40)]
    sizes += [rng.randint(0, 32 * 1024) for _ in range(1500)]
    for i, size in enumerate(sizes):
        path = root / f"d{i % 17}" / f"f{i}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
        total += size
    return total


def test_twenty_cuts_during_a_200mb_sync_lose_and_leave_nothing(bed: SyncBed) -> None:
    rng = random.Random(SEED)
    total = make_tree(bed.project, rng)
    assert total > 180 * MB
    cut_points = [rng.randint(1 * MB, 8 * MB) for _ in range(20)]
    with DelayProxy("127.0.0.1", bed.rt.port, delay=0.0) as proxy:
        bed.port = proxy.port
        engine = bed.engine()
        states: list[str] = []
        engine.on_state(lambda s: states.append(str(s)))
        proxy.cut_after(cut_points[0])
        engine.start()
        deadline = time.monotonic() + 90
        for i, _point in enumerate(cut_points):
            wait_for(lambda i=i: proxy.cuts > i, deadline - time.monotonic(), f"cut {i + 1}")
            if i + 1 < len(cut_points):
                proxy.cut_after(cut_points[i + 1])
        assert proxy.cuts == 20
        wait_for(lambda: str(engine.state) == "idle", 60, "the sync to resume and settle")
        assert engine.flush(None)
        engine.stop()
    sources = lambda rel: rel.split("/")[0] == "outputs"  # noqa: E731
    assert tree_digest(bed.project, sources) == tree_digest(bed.remote, sources)
    assert "disconnected" in " ".join(states) and any(s.startswith("retrying") for s in states)
    # The killed agents clean up as their stdin closes; give the last one a moment.
    wait_for(lambda: temp_files(bed.remote) == [], 10, "no partial file on the runtime")
    assert temp_files(bed.project) == []


def session_sshd_pids(username: str) -> list[int]:
    """The per-session sshd processes serving ``username`` (the listener runs as root)."""
    pids = []
    for pid in pids_of_user(username):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"sshd:"):
            pids.append(pid)
    return pids


def test_killing_the_session_sshd_mid_sync_resumes_cleanly(bed: SyncBed) -> None:
    rng = random.Random(SEED + 1)
    for i in range(6):
        (bed.project / f"big{i}.bin").write_bytes(rng.randbytes(8 * MB))
    engine = bed.engine()
    states: list[str] = []
    engine.on_state(lambda s: states.append(str(s)))
    engine.start()
    for round_ in range(3):
        wait_for(lambda: bool(temp_files(bed.remote)), 30, f"a transfer in flight ({round_})")
        for pid in session_sshd_pids(bed.rt.username):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: states[-1:] != ["idle"] and "disconnected" in " ".join(states), 10, "drop")
        states.clear()
        if round_ < 2:
            (bed.project / f"more{round_}.bin").write_bytes(rng.randbytes(30 * MB))
    wait_for(lambda: str(engine.state) == "idle", 60, "the sync to resume and settle")
    assert engine.flush(None)
    engine.stop()
    sources = lambda rel: rel.split("/")[0] == "outputs"  # noqa: E731
    assert tree_digest(bed.project, sources) == tree_digest(bed.remote, sources)
    wait_for(lambda: temp_files(bed.remote) == [], 10, "no partial file on the runtime")
    assert temp_files(bed.project) == []
