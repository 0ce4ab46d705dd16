"""Symlinks inside the project are recreated as symlinks on the runtime; outside ones are
reported once and skipped. Through the real sshd, by a full pass and while watching."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import SyncBed
from support import wait_for


def test_symlinks_travel_and_outside_ones_are_reported_once(bed: SyncBed, tmp_path: Path) -> None:
    (bed.project / "data").mkdir()
    (bed.project / "data" / "a.txt").write_text("a\n")
    (bed.project / "latest.txt").symlink_to("data/a.txt")
    (bed.project / "data_link").symlink_to("data")
    (bed.project / "data" / "up.txt").symlink_to("../latest.txt")
    (bed.project / "escape").symlink_to("../../elsewhere")
    (bed.project / "absolute").symlink_to(tmp_path / "secret")

    engine = bed.engine()
    report = engine.sync_once()
    remote = bed.remote
    for rel, target in (
        ("latest.txt", "data/a.txt"),
        ("data_link", "data"),
        ("data/up.txt", "../latest.txt"),
    ):
        assert (remote / rel).is_symlink(), rel
        assert os.readlink(remote / rel) == target
    assert (remote / "latest.txt").read_text() == "a\n"
    assert not (remote / "escape").exists() and not (remote / "escape").is_symlink()
    assert not (remote / "absolute").is_symlink()
    outside = sorted(p for p, why in report.problems if "outside the project" in why)
    assert outside == ["absolute", "escape"]

    # A second pass sends nothing again and reports nothing new.
    again = engine.sync_once()
    assert again.push.sent == []
    assert sorted(p for p, why in again.problems if "outside" in why) == outside

    # While watching: a new link arrives, a removed one goes, a retargeted one follows.
    watcher = bed.engine()
    watcher.start()
    wait_for(lambda: str(watcher.state) == "idle", 30, "the first pass")
    (bed.project / "new_link").symlink_to("data/a.txt")
    wait_for(lambda: (remote / "new_link").is_symlink(), 10, "the new link")
    (bed.project / "latest.txt").unlink()
    wait_for(lambda: not (remote / "latest.txt").is_symlink(), 10, "the removed link to go")
    (bed.project / "data_link").unlink()
    (bed.project / "data_link").symlink_to("data/a.txt")
    wait_for(lambda: readlink(remote / "data_link") == "data/a.txt", 10, "the new target")


def readlink(path: Path) -> str | None:
    """The link's target, or None while it is being replaced (removed, then made again)."""
    try:
        return os.readlink(path)
    except OSError:
        return None
