"""One connection through the channel while ``watch`` runs: OpenSSH rides the daemon's."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from .conftest import Channel
from .standin import SESSION
from .test_init_colab import colablink, init_args, setup


def test_openssh_and_exec_ride_the_held_connection(channel: Channel, tmp_path: Path) -> None:
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
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=20)
