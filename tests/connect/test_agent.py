"""The local agent: one warm connection that exec, status and forward reuse without paramiko."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from colablink.connection import Connection
from colablink_runtime import procs
from support.system import pids_of_user, wait_for

from bench.delay_proxy import DelayProxy

from .conftest import Setup, make_profile


def sshd_sessions(live: Setup) -> set[int]:
    """The runtime user's per-connection sshd processes ("sshd: user@notty").

    A process sshd forks to start a command carries the same title until it execs; it is a child
    of the per-connection one, so only sshd processes whose parent is not the user's are counted.
    """
    user_sshd = {
        pid
        for pid in pids_of_user(live.runtime.username)
        if " ".join(procs.cmdline_of(pid)).startswith("sshd:")
    }
    return {pid for pid in user_sshd if procs.parent_of(pid) not in user_sshd}


def logins(live: Setup) -> int:
    log = Path(live.runtime.runtime.state_dir) / "sshd.log"  # type: ignore[attr-defined]
    return log.read_text(errors="replace").count("Accepted publickey")


def test_exec_and_status_reuse_the_agent_connection(
    live: Setup, agent: subprocess.Popen[bytes]
) -> None:
    # The agent's own connection (its unprivileged sshd child appears just after login).
    sessions = wait_for(lambda: sshd_sessions(live), 10, "the agent's sshd session")
    assert len(sessions) == 1
    logins_before = logins(live)

    running = live.spawn("exec", "sleep", "1")
    while running.poll() is None:
        assert sshd_sessions(live) == sessions
        time.sleep(0.05)
    assert running.returncode == 0

    exec_result = live.cli("exec", "true")
    status_result = live.cli("status")
    assert exec_result.returncode == 0
    assert status_result.returncode == 0
    assert b"agent      running" in status_result.stdout
    assert b"reachable  yes" in status_result.stdout
    assert sshd_sessions(live) == sessions
    assert logins(live) == logins_before


def test_warm_path_does_not_import_paramiko(live: Setup, agent: subprocess.Popen[bytes]) -> None:
    for args in (["exec", "true"], ["status"]):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "colablink", *args],
            env=live.env,
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.decode().splitlines()}
        assert "colablink.daemon.client" in imported
        assert not {name for name in imported if name.split(".")[0] in ("paramiko", "cryptography")}


def test_status_without_agent(live: Setup) -> None:
    result = live.cli("status")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "agent      not running" in out
    assert "gpu        none" in out
    assert "disk free" in out


def test_status_gives_up_on_a_silent_tunnel(live: Setup, tmp_path: Path) -> None:
    with DelayProxy(live.runtime.host, live.runtime.port, delay=0.001) as proxy:
        profile = make_profile(live.runtime, tmp_path, port=proxy.port)
        with Connection(profile, connect_timeout=1.0) as connection:
            assert connection.status().reachable
            proxy.stall()
            started = time.monotonic()
            status = connection.status()
            assert time.monotonic() - started < 2.0
            assert not status.reachable
            assert status.problem is not None and "did not answer within 1 s" in status.problem


def test_disconnect_stops_the_agent(live: Setup) -> None:
    process = live.spawn("watch")
    assert process.stdout is not None
    assert b"is up" in process.stdout.readline()
    result = live.cli("disconnect")
    assert result.returncode == 0, result.stderr
    assert b"Stopped the agent" in result.stdout
    assert process.wait(timeout=10) == 0
    assert not live.socket.exists()
    assert live.cli("disconnect").stdout.startswith(b"No agent was running")


def test_second_agent_is_refused(live: Setup, agent: subprocess.Popen[bytes]) -> None:
    result = live.cli("watch", timeout=30)
    assert result.returncode != 0
    assert b"already running" in result.stderr
    assert b"Traceback" not in result.stderr
    assert agent.poll() is None


def test_watch_syncs_sources_up_and_outputs_back(
    live: Setup, agent: subprocess.Popen[bytes]
) -> None:
    source = live.profile.project_root / "watched_source.py"
    source.write_text("print('hi')\n")
    remote_copy = Path(live.profile.remote_root) / "watched_source.py"
    wait_for(remote_copy.exists, 15, "the source to reach the runtime")
    assert remote_copy.read_text() == "print('hi')\n"
    made = live.cli("exec", "sh", "-c", 'echo result > "$COLABLINK_OUTPUT_DIR/watched.txt"')
    assert made.returncode == 0, made.stderr
    landed = live.profile.local_conn_dir / "watched.txt"
    wait_for(landed.exists, 15, "the output to arrive locally")
    assert landed.read_text() == "result\n"
