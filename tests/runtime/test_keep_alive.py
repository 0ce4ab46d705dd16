"""keep_alive blocks with a heartbeat of connected sessions and stops cleanly on Ctrl+C."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from colablink_runtime.runtime import ColabRuntime
from support import RuntimeHandle, wait_for

from .sshclient import transport_to


def test_heartbeat_counts_sessions_and_ctrl_c_returns(
    runtime: RuntimeHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = runtime.runtime
    assert isinstance(rt, ColabRuntime)
    assert "0 SSH sessions connected" in rt.heartbeat()
    transport = transport_to(runtime.port)
    try:
        wait_for(
            lambda: "1 SSH session connected" in rt.heartbeat(),
            10,
            "the heartbeat to count one session",
        )
        main = threading.main_thread().ident
        assert main is not None
        timer = threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT))
        started = time.monotonic()
        timer.start()
        rt.keep_alive(interval=0.1)
        elapsed = time.monotonic() - started
    finally:
        transport.close()
    lines = capsys.readouterr().out.splitlines()
    print(f"keep_alive returned {elapsed:.2f} s after start (interrupt at 0.5 s)")
    beat = "ColabLink runtime up: 1 SSH session connected."
    beats = [line for line in lines if line.endswith(beat)]
    assert len(beats) >= 3, lines
    assert lines[-1] == "Keep-alive stopped; the runtime keeps serving until teardown()."
    assert 0.4 < elapsed < 5
    # Ctrl+C stopped the keep-alive only; the runtime still serves.
    transport_to(runtime.port).close()


def test_heartbeat_reports_a_dead_sshd(runtime: RuntimeHandle) -> None:
    rt = runtime.runtime
    assert isinstance(rt, ColabRuntime)
    rt.teardown()
    assert "sshd is not running; run setup() again." in rt.heartbeat()
