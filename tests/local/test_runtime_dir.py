"""Without XDG_RUNTIME_DIR, a /tmp/runtime-<uid> made first by another local user is not used."""

from __future__ import annotations

import os
import pwd
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import create_account, public_tempdir, remove_account
from support.system import foreign_pythonpath, run_as

PROBE = "from colablink.local.paths import runtime_dir; print(runtime_dir())"


@pytest.fixture
def victim_and_squatter() -> Iterator[tuple[str, str]]:
    victim, squatter = create_account(), create_account()
    try:
        yield victim, squatter
    finally:
        remove_account(victim)
        remove_account(squatter)


def test_a_squatted_tmp_runtime_dir_falls_back_to_a_private_one(
    victim_and_squatter: tuple[str, str],
) -> None:
    victim, squatter = victim_and_squatter
    squatted = Path(f"/tmp/runtime-{pwd.getpwnam(victim).pw_uid}")
    shutil.rmtree(squatted, ignore_errors=True)
    made = run_as(squatter, ["sh", "-c", f"mkdir -m 777 {squatted}"])
    assert made.returncode == 0 and squatted.stat().st_uid == pwd.getpwnam(squatter).pw_uid
    config = public_tempdir()
    os.chown(config, pwd.getpwnam(victim).pw_uid, -1)
    env = {"PYTHONPATH": foreign_pythonpath(), "COLABLINK_CONFIG_DIR": str(config / "cfg")}
    try:
        probe = run_as(victim, [sys.executable, "-c", PROBE], env)
        assert probe.returncode == 0, probe.stderr.decode()
        chosen = Path(probe.stdout.decode().strip())
        assert chosen == config / "cfg" / "run"
        assert chosen.stat().st_mode & 0o777 == 0o700
        assert os.listdir(squatted) == []
        # The verbs that use it say nothing about it either: one sentence, no traceback.
        status = run_as(victim, [sys.executable, "-m", "colablink", "status"], env)
        assert b"Traceback" not in status.stderr and status.returncode == 2, status.stderr
    finally:
        shutil.rmtree(squatted, ignore_errors=True)
        shutil.rmtree(config, ignore_errors=True)
