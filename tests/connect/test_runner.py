"""Commands through the run supervisor: one front per connection, one supervisor per root."""

from __future__ import annotations

import os
import shlex
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from colablink.connection import Connection
from colablink_runtime import procs
from support.system import pids_of_user, wait_for

from .conftest import Setup, remote_sleeps


def runner_pids(live: Setup) -> list[int]:
    return [
        pid
        for pid in pids_of_user(live.runtime.username)
        if procs.cmdline_of(pid)[:2] == ["python3", "-Sc"]
        and '"colablink_front"' in procs.cmdline_of(pid)[2]
    ]


@pytest.fixture
def warm(live: Setup) -> Iterator[Connection]:
    connection = Connection(live.profile)
    connection.warm_up()
    assert len(runner_pids(live)) == 1
    yield connection
    connection.close()
    wait_for(lambda: not runner_pids(live), 10, "the front to exit with its channel")


def test_results_match_a_shell(warm: Connection, live: Setup) -> None:
    assert warm.run(["sh", "-c", "exit 42"]).exit_code == 42
    assert warm.run("kill -9 $$").exit_code == 137
    missing = warm.run(["no-such-command-here"])
    assert (missing.exit_code, missing.stderr) == (127, b"no-such-command-here: not found\n")
    assert warm.run(["/etc/passwd"]).exit_code == 126
    where = warm.run(["sh", "-c", 'pwd; echo "$COLABLINK_OUTPUT_DIR"'])
    assert where.stdout.decode().split() == [live.profile.remote_root, live.profile.remote_conn_dir]
    assert warm.run("echo a b | wc -w").stdout.strip() == b"2"
    data = os.urandom(3_000_000)
    assert warm.run(["cat"], stdin=data).stdout == data


def test_concurrent_commands_share_it(warm: Connection) -> None:
    results: dict[int, bytes] = {}

    def one(i: int) -> None:
        results[i] = warm.run(["sh", "-c", f"sleep 0.3; echo {i}"]).stdout

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started < 2.0
    assert results == {i: f"{i}\n".encode() for i in range(8)}


def cancel_ends_the_whole_process_group(connection: Connection, live: Setup) -> None:
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    code = connection.exec(
        "sleep 100 & sleep 100; wait",
        on_stdout=lambda _: None,
        on_stderr=lambda _: None,
        cancel=cancel,
    )
    assert time.monotonic() - started < 2.5
    assert code == 130
    wait_for(lambda: not remote_sleeps(live), 5, "every remote sleep to end")


def test_cancel_ends_the_whole_process_group(warm: Connection, live: Setup) -> None:
    cancel_ends_the_whole_process_group(warm, live)


def test_a_lost_front_is_replaced_and_the_run_goes_on(warm: Connection, live: Setup) -> None:
    # Killing the front is what a dropped link does to it: the run, the supervisor's, goes on.
    results: list[int] = []
    thread = threading.Thread(
        target=lambda: results.append(warm.run("sleep 2; echo done; exit 5").exit_code)
    )
    thread.start()
    wait_for(lambda: remote_sleeps(live), 10, "the remote sleep")
    (pid,) = runner_pids(live)
    os.kill(pid, signal.SIGKILL)
    thread.join(15)
    assert results == [5]
    assert warm.run(["true"]).exit_code == 0
    assert len(runner_pids(live)) == 1


# The runtime user's ~/.bashrc (first, before Debian's non-interactive return): no python3.
NO_PYTHON = 'python3() { echo "python3: not found" >&2; return 127; }'


def test_without_python3_commands_take_plain_channels(live: Setup) -> None:
    plant = f"{{ echo {shlex.quote(NO_PYTHON)}; cat ~/.bashrc; }} > ~/.rc && mv ~/.rc ~/.bashrc"
    assert live.cli("exec", plant).returncode == 0
    try:
        wait_for(lambda: not runner_pids(live), 10, "the planting command's front to exit")
        with Connection(live.profile) as plain:
            result = plain.run(["sh", "-c", "echo out; echo err >&2; exit 7"])
            assert (result.exit_code, result.stdout, result.stderr) == (7, b"out\n", b"err\n")
            assert plain.run(["cat"], stdin=b"fed\n").stdout == b"fed\n"
            assert not runner_pids(live), "a supervisor front started without python3"
            cancel_ends_the_whole_process_group(plain, live)
    finally:
        assert live.cli("exec", "sed -i 1d ~/.bashrc").returncode == 0
