"""Modes travel: a mode-only change is a change, by a full pass and while watching."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from conftest import SyncBed
from support import wait_for


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_chmod_reaches_the_runtime_and_the_script_runs(bed: SyncBed) -> None:
    script = bed.project / "run.sh"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(0o644)
    bed.engine().sync_once()
    assert mode_of(bed.remote / "run.sh") == 0o644

    # Nothing but the mode changes (mtime and size stay): a full pass still carries it.
    before = script.stat()
    script.chmod(0o755)
    os.utime(script, ns=(before.st_atime_ns, before.st_mtime_ns))
    report = bed.engine().sync_once()
    assert mode_of(bed.remote / "run.sh") == 0o755
    assert report.push.sent == []  # equal content: only the mode was set, nothing re-sent

    ran = bed.connect().run("./run.sh", cwd=str(bed.remote))
    assert (ran.exit_code, ran.stdout) == (0, b"ran\n"), ran.stderr

    # While watching: chmod alone (an attribute event) is pushed.
    engine = bed.engine()
    engine.start()
    wait_for(lambda: str(engine.state) == "idle", 30, "the first pass")
    script.chmod(0o700)
    wait_for(lambda: mode_of(bed.remote / "run.sh") == 0o700, 10, "the chmod to arrive")
