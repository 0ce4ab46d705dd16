"""Running commands: exact argv, exit codes and signals, streaming, stdin, and a real cancel."""

from __future__ import annotations

import io
import subprocess
import threading
import time

import pytest
from colablink.ssh import remote_exec
from colablink.ssh.session import Session
from support.runtimes import RuntimeHandle

from .targets import cancel_after

HOSTILE = ["a b", "it's", "$HOME", ";rm -rf x", "*", "", "ünï"]


def remote_pids(username: str, name: str) -> list[str]:
    proc = subprocess.run(["pgrep", "-u", username, name], capture_output=True, text=True)
    return proc.stdout.split()


def gone_within(username: str, name: str, seconds: float) -> bool:
    """A KILLed process may still be listed for a moment while the kernel finishes it."""
    deadline = time.monotonic() + seconds
    while remote_pids(username, name):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_hostile_argv_round_trips(session: Session) -> None:
    result = session.run(["printf", "%s\\n", *HOSTILE])
    assert result.exit_code == 0
    assert result.stdout.decode().split("\n")[:-1] == HOSTILE


def test_shell_line_runs_in_cwd_with_env(session: Session, runtime: RuntimeHandle) -> None:
    result = session.run("pwd; echo $V | tr a-z A-Z", cwd=runtime.remote_root, env={"V": "a b"})
    assert result.stdout.decode() == f"{runtime.remote_root}\nA B\n"


@pytest.mark.parametrize("code", [0, 1, 42])
def test_exit_codes_come_back(session: Session, code: int) -> None:
    assert session.run(["sh", "-c", f"exit {code}"]).exit_code == code


def test_signal_death_is_128_plus_n(session: Session) -> None:
    # The login shell itself dies: sshd reports exit-signal KILL, which paramiko alone turns to -1.
    assert session.run("kill -9 $$").exit_code == 137
    assert session.run("kill -TERM $$").exit_code == 143


def test_stdout_and_stderr_stream_separately_as_they_arrive(session: Session) -> None:
    arrivals: list[tuple[str, bytes, float]] = []
    start = time.monotonic()
    code = remote_exec.stream(
        session,
        remote_exec.command_line("for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.3; done"),
        on_stdout=lambda b: arrivals.append(("out", b, time.monotonic() - start)),
        on_stderr=lambda b: arrivals.append(("err", b, time.monotonic() - start)),
    )
    assert code == 0
    out = b"".join(b for kind, b, _ in arrivals if kind == "out")
    err = b"".join(b for kind, b, _ in arrivals if kind == "err")
    assert out == b"out1\nout2\nout3\n" and err == b"err1\nerr2\nerr3\n"
    first_out = next(t for kind, _, t in arrivals if kind == "out")
    assert first_out < 0.5, "output arrived only at the end"


def test_piped_stdin_is_forwarded(session: Session) -> None:
    data = bytes(range(256)) * 4096
    result = session.run(["sha256sum"], stdin=io.BytesIO(data))
    import hashlib

    assert result.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
    assert session.run(["cat"], stdin=b"").stdout == b""


def test_cancel_ends_a_remote_sleep_within_2s(session: Session, runtime: RuntimeHandle) -> None:
    cancel = cancel_after(0.3)
    start = time.monotonic()
    code = remote_exec.stream(
        session,
        remote_exec.command_line(["sleep", "100"]),
        on_stdout=lambda _: None,
        on_stderr=lambda _: None,
        cancel=cancel,
    )
    assert code == 130
    assert gone_within(runtime.username, "sleep", 0.2)
    assert time.monotonic() - start < 0.3 + 2.0


def test_cancel_kills_what_ignores_sigint(session: Session, runtime: RuntimeHandle) -> None:
    cancel = cancel_after(0.3)
    start = time.monotonic()
    code = remote_exec.stream(
        session,
        remote_exec.command_line("trap '' INT; sleep 100 & sleep 100; wait"),
        on_stdout=lambda _: None,
        on_stderr=lambda _: None,
        cancel=cancel,
    )
    assert code in (130, 137)
    assert gone_within(runtime.username, "sleep", 0.2)
    assert time.monotonic() - start < 0.3 + 2.0


def test_channels_run_concurrently_on_one_session(session: Session) -> None:
    results: list[int] = []

    def one(i: int) -> None:
        results.append(session.run(["sh", "-c", f"sleep 0.5; exit {i}"]).exit_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(8))
    assert time.monotonic() - start < 3


def test_leaving_early_kills_the_remote_command(session: Session, runtime: RuntimeHandle) -> None:
    class Stop(Exception):
        pass

    def on_stdout(_: bytes) -> None:
        raise Stop

    with pytest.raises(Stop):
        remote_exec.stream(
            session,
            remote_exec.command_line("echo started; sleep 100"),
            on_stdout=on_stdout,
            on_stderr=lambda _: None,
        )
    assert gone_within(runtime.username, "sleep", 1.0)
