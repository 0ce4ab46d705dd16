"""A profile against a real runtime, the CLI as a subprocess, and a running local agent.

The profile is written directly (with the runtime's test key) so these tests exercise the
connection core, agent and verbs on their own; enrolment is tested with ``init``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from colablink.local.profiles import Profile, ProfileStore
from support.runtimes import RuntimeHandle, start_root_runtime

PROFILE = "ct"


@dataclass
class Setup:
    runtime: RuntimeHandle
    env: dict[str, str]
    profile: Profile
    socket: Path

    def cli(
        self, *args: str, input: bytes | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "colablink", *args],
            env=self.env,
            input=input,
            capture_output=True,
            timeout=timeout,
            check=False,
        )

    def spawn(self, *args: str, **kwargs: object) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
            [sys.executable, "-m", "colablink", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **kwargs,
        )


def make_profile(handle: RuntimeHandle, base: Path, name: str = PROFILE, port: int = 0) -> Profile:
    project = base / "project"
    project.mkdir(exist_ok=True)
    return Profile(
        name=name,
        host=handle.host,
        port=port or handle.port,
        username=handle.username,
        remote_root=handle.remote_root,
        remote_dir="connection_test",
        local_dir="connection_test",
        project_root=project,
        key_path=handle.client_key,
        host_keys=list(handle.host_keys),
    )


@pytest.fixture(scope="module")
def live() -> Iterator[Setup]:
    """One runtime per module (they take a while to start), with a saved profile for it."""
    handle = start_root_runtime()
    # Short: a unix socket path must fit in 108 bytes.
    base = Path(tempfile.mkdtemp(prefix="clc-"))
    env = {
        **os.environ,
        "COLABLINK_CONFIG_DIR": str(base / "config"),
        "COLABLINK_RUNTIME_DIR": str(base / "run"),
        "COLABLINK_SSH_CONFIG": str(base / "ssh_config"),
    }
    # Module scope: the function-scoped monkeypatch fixture cannot serve here.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLABLINK_CONFIG_DIR", env["COLABLINK_CONFIG_DIR"])
        patch.setenv("COLABLINK_RUNTIME_DIR", env["COLABLINK_RUNTIME_DIR"])
        profile = make_profile(handle, base)
        ProfileStore().save(profile)
        try:
            yield Setup(handle, env, profile, base / "run" / f"agent-{PROFILE}.sock")
        finally:
            handle.close()
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def agent(live: Setup) -> Iterator[subprocess.Popen[bytes]]:
    """``colablink watch`` running for the module's profile; stopped (and checked) afterwards."""
    process = live.spawn("watch")
    try:
        assert process.stdout is not None
        assert b"is up" in process.stdout.readline(), "the agent did not start"
        assert live.socket.exists()
        drain(process)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert not live.socket.exists()


def remote_sleeps(live: Setup) -> bool:
    """Whether any ``sleep`` runs as the runtime's user (the commands these tests interrupt)."""
    found = subprocess.run(
        ["pgrep", "-u", live.runtime.username, "-x", "sleep"], capture_output=True
    )
    return found.returncode == 0


def end(process: subprocess.Popen[bytes]) -> None:
    """Kill a CLI process that a failing test left running, so it cannot outlive the test."""
    if process.poll() is None:
        process.kill()
        process.wait()


def drain(process: subprocess.Popen[bytes]) -> threading.Thread:
    """Keep reading the agent's reports so a full pipe never blocks it."""
    assert process.stdout is not None
    reader = threading.Thread(target=process.stdout.read, daemon=True)
    reader.start()
    return reader


@pytest.fixture(params=["direct", "agent"])
def mode(request: pytest.FixtureRequest, live: Setup) -> Iterator[str]:
    """Run a test once without an agent and once with one up."""
    if request.param == "agent":
        request.getfixturevalue("agent")
    yield str(request.param)
