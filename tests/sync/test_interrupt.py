"""Ctrl+C in the middle of a transfer leaves no partial file on either side."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from conftest import SyncBed, save_profile, temp_files
from support import wait_for

MB = 1024 * 1024


def interrupt_when(env: dict[str, str], started: Callable[[], bool]) -> int:
    process = subprocess.Popen(
        [sys.executable, "-m", "colablink", "sync"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(started, 30, "the transfer to start")
        process.send_signal(signal.SIGINT)
        return process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_ctrl_c_during_push_leaves_no_partial_remote_file(bed: SyncBed, tmp_path: Path) -> None:
    env = save_profile(bed, tmp_path / "config")
    with open(bed.project / "huge.bin", "wb") as handle:
        for _ in range(400):
            handle.write(os.urandom(MB))
    code = interrupt_when(env, lambda: bool(temp_files(bed.remote)))
    assert code == 130
    wait_for(lambda: temp_files(bed.remote) == [], 10, "the agent to remove its temp file")
    remote = bed.remote / "huge.bin"
    assert not remote.exists() or remote.read_bytes() == (bed.project / "huge.bin").read_bytes()


def test_ctrl_c_during_pull_leaves_no_partial_local_file(bed: SyncBed, tmp_path: Path) -> None:
    env = save_profile(bed, tmp_path / "config")
    bed.remote_write("model.bin", os.urandom(400 * MB))
    code = interrupt_when(env, lambda: bed.outputs.exists() and bool(temp_files(bed.outputs)))
    assert code == 130
    assert temp_files(bed.outputs) == []
    local = bed.outputs / "model.bin"
    assert not local.exists() or local.stat().st_size == 400 * MB
