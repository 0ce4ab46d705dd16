"""``colablink sync [--dry-run]`` as a user runs it: a real process, a saved profile."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import SyncBed, save_profile


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLABLINK_CONFIG_DIR": str(config)}
    return subprocess.run(
        [sys.executable, "-m", "colablink", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_sync_dry_run_then_sync(bed: SyncBed, tmp_path: Path) -> None:
    config = tmp_path / "config"
    save_profile(bed, config)
    (bed.project / "train.py").write_text("print('hi')\n")
    bed.remote_write("result.txt", b"42")

    dry = cli(config, "sync", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "send train.py" in dry.stdout and "fetch result.txt" in dry.stdout
    assert not (bed.remote / "train.py").exists()
    assert not (bed.outputs / "result.txt").exists()

    real = cli(config, "--profile", "gpu", "sync")
    assert real.returncode == 0, real.stderr
    assert "sent 1 files" in real.stdout
    assert (bed.remote / "train.py").read_text() == "print('hi')\n"
    assert (bed.outputs / "result.txt").read_bytes() == b"42"

    again = cli(config, "sync")
    assert "sent 0 files" in again.stdout and "fetched 0 outputs" in again.stdout


def test_sync_with_an_unknown_profile_is_one_sentence(tmp_path: Path) -> None:
    result = cli(tmp_path / "config", "--profile", "nope", "sync")
    assert result.returncode != 0
    assert result.stderr.startswith("colablink: ") and "Traceback" not in result.stderr


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry below ``root``: kind, content hash, size, mtime_ns and mode."""
    out: dict[str, tuple[object, ...]] = {}
    if not root.exists():
        return out
    for path in [root, *sorted(root.rglob("*"))]:
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        out[path.relative_to(root).as_posix()] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return out


def test_dry_run_changes_nothing_on_either_side(bed: SyncBed, tmp_path: Path) -> None:
    config = tmp_path / "config"
    save_profile(bed, config)
    (bed.project / "same.txt").write_text("same\n")
    (bed.project / "run.sh").write_text("#!/bin/sh\n")
    assert cli(config, "sync").returncode == 0
    shutil.rmtree(bed.outputs)
    # What a real pass would act on: a touched file (same content, new mtime), a chmod, a new
    # file, a new output, a missing local connection dir.
    os.utime(bed.project / "same.txt", ns=(1_000_000_000, 1_700_000_000_123_456_789))
    (bed.project / "run.sh").chmod(0o755)
    (bed.project / "new.py").write_text("new\n")
    bed.remote_write("result.txt", b"42")
    records = config / "sync" / "gpu.json"
    before = (snapshot(bed.project), snapshot(bed.remote), records.read_bytes())

    dry = cli(config, "sync", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "send new.py" in dry.stdout and "fetch result.txt" in dry.stdout
    assert (snapshot(bed.project), snapshot(bed.remote), records.read_bytes()) == before
