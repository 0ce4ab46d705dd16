"""One connection through the channel while ``watch`` runs: OpenSSH and the run verbs ride the
daemon's."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.system import wait_for

from .conftest import Channel
from .standin import SESSION
from .test_init_colab import colablink, init_args, setup


@pytest.fixture
def held(channel: Channel, tmp_path: Path) -> Iterator[tuple[dict[str, str], Path, int]]:
    """An enrolled profile held by ``watch``: its env, project, and the stand-in's count after
    ``init``."""
    env, project = setup(channel, tmp_path)
    done = colablink(env, project, *init_args(channel, SESSION, "--colab-cli", str(channel.cli)))
    assert done.returncode == 0, done.stderr
    after_init = channel.endpoint.connections
    watch = subprocess.Popen(
        [sys.executable, "-m", "colablink", "watch"],
        env=env, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert watch.stdout is not None
        assert b"is up" in watch.stdout.readline(), "the agent did not start"
        yield env, project, after_init
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=20)


def test_openssh_and_exec_ride_the_held_connection(
    channel: Channel, held: tuple[dict[str, str], Path, int]
) -> None:
    env, project, after_init = held
    for _ in range(2):
        ssh = subprocess.run(
            ["ssh", "-F", env["COLABLINK_SSH_CONFIG"], "-o", "BatchMode=yes",
             "colablink-default", 'echo "$SSH_CONNECTION"'],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert ssh.returncode == 0, ssh.stderr
        # sshd saw this login arrive from its own side of the held connection.
        assert ssh.stdout.split()[2:] == [ssh.stdout.split()[0], str(channel.runtime.port)]
    ran = colablink(env, project, "exec", "true")
    assert ran.returncode == 0, ran.stderr
    # The daemon's one connection carried everything: no second dial, no 429.
    assert channel.endpoint.connections == after_init + 1
    assert channel.endpoint.refused == []


def test_the_run_verbs_ride_the_held_connection(
    channel: Channel, held: tuple[dict[str, str], Path, int]
) -> None:
    env, project, after_init = held
    started = colablink(env, project, "exec", "--detach", "echo ready; sleep 60")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    listing = colablink(env, project, "runs")
    assert listing.returncode == 0 and run_id in listing.stdout, listing.stderr
    wait_for(
        lambda: colablink(env, project, "logs", run_id).stdout == "ready\n", 10, "the run's output"
    )
    follower = subprocess.Popen(
        [sys.executable, "-m", "colablink", "attach", run_id],
        env=env, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "ready\n"
        killed = colablink(env, project, "kill", run_id)
        assert killed.returncode == 0, killed.stderr
        _, stderr = follower.communicate(timeout=30)
        assert follower.returncode == 143, stderr
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert channel.endpoint.connections == after_init + 1
    assert channel.endpoint.refused == []
