"""Every verb through the channel: exec, sync both ways, shell, forward, LocalClient."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from colablink.client import LocalClient

from .conftest import Channel
from .standin import SESSION
from .test_init_colab import colablink, init_args, setup


def test_every_verb_through_the_channel(
    channel: Channel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, project = setup(channel, tmp_path)
    done = colablink(env, project, *init_args(channel, SESSION, "--colab-cli", str(channel.cli)))
    assert done.returncode == 0, done.stderr
    for name in ("COLABLINK_CONFIG_DIR", "COLABLINK_RUNTIME_DIR", "COLABLINK_SSH_CONFIG"):
        monkeypatch.setenv(name, env[name])

    # Sync both ways from the CLI: a source goes up, an output comes back.
    (project / "train.py").write_text("print('hi')\n")
    assert colablink(env, project, "sync").returncode == 0
    ran = colablink(env, project, "exec", "python3", "train.py")
    assert (ran.returncode, ran.stdout) == (0, "hi\n"), ran.stderr
    made = colablink(env, project, "exec", "sh", "-c", 'echo 42 > "$COLABLINK_OUTPUT_DIR/out.txt"')
    assert made.returncode == 0, made.stderr
    assert colablink(env, project, "sync").returncode == 0

    with LocalClient("default") as client:
        out = client.profile.local_conn_dir / "out.txt"
        assert out.read_text() == "42\n"
        assert client.execute("echo $PWD").stdout.decode().strip() == client.profile.remote_root
        conn = client.connection
        # A shell on a PTY.
        shell = conn.open_shell(80, 24)
        shell.sendall(b"echo sh-$((40+2)); exit\n")
        seen = b""
        deadline = time.monotonic() + 20
        while b"sh-42" not in seen and time.monotonic() < deadline:
            seen += shell.recv(4096)
        assert b"sh-42" in seen
        shell.close()
        # A forward: the runtime's own sshd answers on the local port.
        port = conn.forward(channel.runtime.port)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            assert sock.recv(64).startswith(b"SSH-2.0-")
    # One connection per user at a time (the CLI calls one after another, then LocalClient).
    assert channel.endpoint.refused == []
