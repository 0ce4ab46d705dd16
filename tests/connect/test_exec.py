"""``colablink exec`` against a real runtime, with and without an agent."""

from __future__ import annotations

import hashlib
import signal
import time

import pytest
from support.system import wait_for

from .conftest import Setup, end, remote_sleeps

HOSTILE = ["a b", "it's", "$HOME", ";rm -rf x", "*", "", "ünï"]


@pytest.mark.parametrize("code", [0, 1, 42])
def test_exit_code_is_the_remote_one(live: Setup, mode: str, code: int) -> None:
    result = live.cli("exec", "sh", "-c", f"exit {code}")
    assert result.returncode == code, result.stderr


def test_signal_death_gives_128_plus_n(live: Setup, mode: str) -> None:
    result = live.cli("exec", "kill -9 $$")
    assert result.returncode == 137, result.stderr


def test_hostile_argv_round_trips(live: Setup, mode: str) -> None:
    result = live.cli("exec", "--", "printf", r"[%s]\n", *HOSTILE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == "".join(f"[{word}]\n" for word in HOSTILE)


def test_single_string_is_a_shell_line_and_profile_goes_anywhere(live: Setup, mode: str) -> None:
    after = live.cli("exec", "--profile", "ct", "echo one two | wc -w")
    before = live.cli("--profile", "ct", "exec", "echo one two | wc -w")
    assert after.stdout.strip() == before.stdout.strip() == b"2"


def test_streams_stay_separate_and_environment_is_set(live: Setup, mode: str) -> None:
    script = 'echo out; echo err >&2; pwd; echo "$COLABLINK_OUTPUT_DIR $PYTHONUNBUFFERED"'
    result = live.cli("exec", "sh", "-c", script)
    assert result.returncode == 0
    assert result.stderr == b"err\n"
    lines = result.stdout.decode().splitlines()
    assert lines == ["out", live.profile.remote_root, f"{live.profile.remote_conn_dir} 1"]


def test_piped_stdin_is_forwarded(live: Setup, mode: str) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB, every byte value
    result = live.cli("exec", "sha256sum", input=data)
    assert result.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()


def test_sigint_ends_the_remote_command(live: Setup, mode: str) -> None:
    process = live.spawn("exec", "sleep", "100")
    try:
        wait_for(lambda: remote_sleeps(live), 15, "the remote sleep to start")
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=5)
        elapsed = time.monotonic() - started
    finally:
        end(process)
    assert elapsed < 2.0
    assert process.returncode != 0
    assert not remote_sleeps(live)
