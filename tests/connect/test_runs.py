"""Runs that outlive the link: cuts of the tunnel under a run, and clients killed mid-run."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from colablink.client import LocalClient
from colablink.local.profiles import Profile, ProfileStore
from colablink.ssh.runs import RunInfo
from support.system import wait_for

from bench.delay_proxy import DelayProxy

from .conftest import Setup, drain, end, make_profile, remote_sleeps

# A numbered line every 50 ms for 5 s, then the run's own exit code.
LINES = 100
COUNTER = (
    f"python3 -c 'import time\nfor i in range({LINES}):\n print(i, flush=True); time.sleep(0.05)\n"
    "raise SystemExit(7)'"
)
EXPECTED = "".join(f"{i}\n" for i in range(LINES))


@pytest.fixture
def cut_profile(live: Setup) -> Iterator[tuple[Profile, DelayProxy]]:
    """A profile that reaches the runtime through a proxy the test can cut."""
    with DelayProxy("127.0.0.1", live.runtime.port, delay=0.0) as proxy:
        profile = make_profile(live.runtime, live.socket.parent.parent, "cut", proxy.port)
        ProfileStore().save(profile)
        try:
            yield profile, proxy
        finally:
            ProfileStore().delete("cut")


def cut_three_times(proxy: DelayProxy) -> threading.Thread:
    def cuts() -> None:
        for _ in range(3):
            time.sleep(1.2)
            proxy.cut()

    thread = threading.Thread(target=cuts)
    thread.start()
    return thread


def test_the_cli_rides_out_three_cuts(live: Setup, cut_profile: tuple[Profile, DelayProxy]) -> None:
    _, proxy = cut_profile
    process = live.spawn("exec", "-p", "cut", COUNTER)
    assert process.stdout is not None
    first = process.stdout.readline()  # cuts under the run, however slow the start
    cuts = cut_three_times(proxy)
    stdout, stderr = process.communicate(timeout=60)
    cuts.join()
    assert proxy.cuts >= 3
    assert (first + stdout).decode() == EXPECTED, stderr
    assert process.returncode == 7
    assert stderr.decode().count("reconnecting") == 3


def test_local_client_rides_out_three_cuts(cut_profile: tuple[Profile, DelayProxy]) -> None:
    _, proxy = cut_profile
    with LocalClient(profile="cut") as client:
        assert client.execute(["true"]).exit_code == 0  # connected before the first cut
        cuts = cut_three_times(proxy)
        result = client.execute(COUNTER)
        cuts.join()
    assert (result.exit_code, result.output) == (7, EXPECTED)


def test_a_killed_cli_leaves_the_run_to_finish(live: Setup) -> None:
    since = time.time()
    process = live.spawn("exec", COUNTER)
    assert process.stdout is not None
    assert process.stdout.readline() == b"0\n"
    process.kill()
    process.wait()
    with LocalClient(profile=live.profile.name) as client:

        def ours() -> list[RunInfo]:
            return [run for run in client.runs() if run.started >= since]

        wait_for(lambda: ours()[0].state == "exited", 20, "the run to finish on its own")
        (run,) = ours()
        assert run.exit_code == 7
        out: list[bytes] = []
        assert client.connection.attach(run.id, on_stdout=out.append, on_stderr=print) == 7
    assert b"".join(out).decode() == EXPECTED
    logs = live.cli("logs", run.id)
    assert (logs.returncode, logs.stdout.decode()) == (0, EXPECTED)
    listing = live.cli("runs")
    assert run.id in listing.stdout.decode() and " 7 " in listing.stdout.decode()


def test_detach_then_logs_attach_and_kill(live: Setup, mode: str) -> None:
    """The same output and exit codes whether the verbs go through the agent or not."""
    started = live.cli("exec", "--detach", COUNTER.replace(f"range({LINES})", "range(600)"))
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.decode().strip()
    wait_for(lambda: b"3\n" in live.cli("logs", run_id).stdout, 10, "output to be kept")
    tail = live.cli("logs", "--tail", "1", run_id).stdout.decode().splitlines()
    assert len(tail) == 1 and tail[0].isdigit()
    follower = live.spawn("attach", run_id)
    time.sleep(1)
    assert live.cli("kill", run_id).returncode == 0
    stdout, _ = follower.communicate(timeout=20)
    assert follower.returncode == 143
    lines = stdout.decode().splitlines()  # from the start, then live, until the kill
    assert 10 < len(lines) < 600 and lines == [str(i) for i in range(len(lines))]
    shown = live.cli("logs", run_id)
    assert (shown.returncode, shown.stdout.decode().splitlines()) == (0, lines)
    assert run_id in live.cli("runs").stdout.decode()
    assert live.cli("kill", run_id).stdout.decode() == f"Run {run_id} had already ended.\n"
    assert live.cli("kill", "zzz").returncode != 0


def test_logs_tail_follow_shows_the_tail_then_only_what_comes_after(live: Setup, mode: str) -> None:
    started = live.cli("exec", "--detach", COUNTER.replace(f"range({LINES})", "range(60)"))
    run_id = started.stdout.decode().strip()
    wait_for(lambda: b"10\n" in live.cli("logs", run_id).stdout, 10, "some output to be kept")
    shown = live.cli("logs", "--tail", "3", "-f", run_id, timeout=30)
    assert shown.returncode == 0, shown.stderr
    lines = [int(line) for line in shown.stdout.decode().split()]
    # The last three lines so far, then the rest as it comes: no line twice, none missing.
    assert lines == list(range(lines[0], 60)) and lines[0] >= 8, lines


def _state(live: Setup, run_id: str) -> str:
    (row,) = [line for line in live.cli("runs").stdout.decode().splitlines() if run_id in line]
    return row.split()[1]


def test_ctrl_c_interrupts_attach_but_only_stops_logs_follow(live: Setup, mode: str) -> None:
    run_id = live.cli("exec", "--detach", "echo ready; sleep 100").stdout.decode().strip()
    try:
        for verb, ended in (("logs", False), ("attach", True)):
            args = ("logs", "-f", run_id) if verb == "logs" else ("attach", run_id)
            follower = live.spawn(*args)
            try:
                assert follower.stdout is not None
                assert follower.stdout.readline() == b"ready\n"
                follower.send_signal(signal.SIGINT)
                follower.communicate(timeout=15)
            finally:
                end(follower)
            assert follower.returncode == 130, verb
            if ended:
                wait_for(lambda: _state(live, run_id) == "exited", 10, "the run to be interrupted")
            else:
                assert _state(live, run_id) == "running"
    finally:
        live.cli("kill", "--signal", "KILL", run_id)


def test_many_concurrent_short_runs(live: Setup) -> None:
    codes: dict[int, int] = {}
    since = time.time()
    with LocalClient(profile=live.profile.name) as client:

        def one(i: int) -> None:
            codes[i] = client.execute(["sh", "-c", f"exit {i % 50}"]).exit_code

        threads = [threading.Thread(target=one, args=(i,)) for i in range(100)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert codes == {i: i % 50 for i in range(100)}
        runs = client.runs()
        assert len(runs) <= 200  # the stated retention of finished runs
        ours = [run for run in runs if run.started >= since]
        assert len(ours) == 100 and all(run.state == "exited" for run in ours)
        assert sorted(run.exit_code or 0 for run in ours) == sorted(i % 50 for i in range(100))


def test_ctrl_c_still_interrupts(live: Setup) -> None:
    process = live.spawn("exec", "sleep 100 & sleep 100; wait")
    wait_for(lambda: remote_sleeps(live), 10, "the remote sleeps")
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=15)
    assert process.returncode == 130
    wait_for(lambda: not remote_sleeps(live), 5, "every remote sleep to end")


def test_keep_alive_status_and_disconnect_report_runs_in_progress(live: Setup) -> None:
    from colablink_runtime.runtime import ColabRuntime

    runtime = live.runtime.runtime
    assert isinstance(runtime, ColabRuntime)
    assert "in progress" not in runtime.heartbeat()
    run_id = live.cli("exec", "--detach", "sleep 30").stdout.decode().strip()
    try:
        assert "1 run in progress" in runtime.heartbeat()
        assert "1 in progress" in live.cli("status").stdout.decode()
        report = live.cli("disconnect")
        assert report.returncode == 0
        assert f"1 run(s) still going on the runtime ({run_id})" in report.stderr.decode()
    finally:
        live.cli("kill", run_id)
    wait_for(lambda: "in progress" not in runtime.heartbeat(), 10, "the run to end")


@pytest.fixture
def cut_daemon(
    live: Setup, cut_profile: tuple[Profile, DelayProxy]
) -> Iterator[subprocess.Popen[bytes]]:
    """``colablink watch`` holding the cut profile's connection."""
    process = live.spawn("watch", "-p", "cut", "--no-sync")
    try:
        assert process.stdout is not None
        assert b"is up" in process.stdout.readline(), "the agent did not start"
        drain(process)
        yield process
    finally:
        end(process)


def test_the_daemon_rides_out_three_cuts(
    live: Setup, cut_profile: tuple[Profile, DelayProxy], cut_daemon: subprocess.Popen[bytes]
) -> None:
    _, proxy = cut_profile
    process = live.spawn("exec", "-p", "cut", COUNTER)
    assert process.stdout is not None
    first = process.stdout.readline()
    cuts = cut_three_times(proxy)
    stdout, stderr = process.communicate(timeout=60)
    cuts.join()
    assert proxy.cuts >= 3
    assert ((first + stdout).decode(), process.returncode) == (EXPECTED, 7), stderr


def test_a_killed_daemon_leaves_the_run_to_finish(
    live: Setup, cut_daemon: subprocess.Popen[bytes]
) -> None:
    since = time.time()
    process = live.spawn("exec", "-p", "cut", COUNTER)
    assert process.stdout is not None
    assert process.stdout.readline() == b"0\n"
    cut_daemon.kill()
    cut_daemon.wait()
    process.communicate(timeout=20)
    with LocalClient(profile="cut") as client:

        def ours() -> list[RunInfo]:
            return [run for run in client.runs() if run.started >= since]

        wait_for(lambda: ours()[0].state == "exited", 20, "the run to finish on its own")
        assert ours()[0].exit_code == 7
        assert (
            client.connection.attach(ours()[0].id, on_stdout=lambda _: None, on_stderr=print) == 7
        )
