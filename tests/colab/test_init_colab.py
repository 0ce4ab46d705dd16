"""``colablink init --colab`` through the real client, then the profile in use (CLI, OpenSSH)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from colablink.local.profiles import ProfileStore

from .conftest import Channel
from .standin import SESSION

# `colab new` talks to Google's account APIs, out of reach here: this stand-in answers `new` by
# recording a session for the endpoint stand-in, and hands any other subcommand to the real client.
NEW_STANDIN = """\
import json, os, pathlib, sys
if sys.argv[1:2] == ["new"]:
    name = sys.argv[sys.argv.index("-s") + 1]
    state = pathlib.Path(os.environ["HOME"], ".config", "colab-cli", "sessions.json")
    sessions = json.loads(state.read_text()) if state.exists() else {}
    sessions[name] = {**json.loads(os.environ["STANDIN_SESSION"]), "name": name}
    state.write_text(json.dumps(sessions))
    print(f"Created runtime {name!r} with", sys.argv[sys.argv.index("-s") + 2 :])
    sys.exit(0)
os.execv(os.environ["REAL_COLAB"], [os.environ["REAL_COLAB"], *sys.argv[1:]])
"""


def colablink(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "colablink", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip


def setup(channel: Channel, tmp_path: Path) -> tuple[dict[str, str], Path]:
    project = tmp_path / "project"
    project.mkdir()
    env = {
        **channel.env,
        "COLABLINK_CONFIG_DIR": str(tmp_path / "config 100%"),
        "COLABLINK_RUNTIME_DIR": str(tmp_path / "run"),
        "COLABLINK_SSH_CONFIG": str(tmp_path / "dot ssh" / "config"),
    }
    return env, project


def init_args(channel: Channel, *extra: str) -> list[str]:
    rt = channel.runtime
    return ["init", "--colab", *extra, "--colab-user", rt.username, "--remote-root", rt.remote_root]


def test_init_colab_then_exec_and_openssh_through_the_channel(
    channel: Channel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, project = setup(channel, tmp_path)
    done = colablink(env, project, *init_args(channel, SESSION, "--colab-cli", str(channel.cli)))
    assert done.returncode == 0, done.stderr
    monkeypatch.setenv("COLABLINK_CONFIG_DIR", env["COLABLINK_CONFIG_DIR"])
    profile = ProfileStore().load("default")
    # Pinned on first connect through the channel: the runtime's own key, nothing else.
    assert profile.host_keys[0] in channel.runtime.host_keys
    assert profile.proxy_command is not None and profile.proxy_command[:4] == (
        str(channel.cli), "ssh", "--proxy-mode", "-s",
    )  # fmt: skip
    ran = colablink(env, project, "exec", "--", "sh", "-c", "echo $PWD")
    assert (ran.returncode, ran.stdout.strip()) == (0, profile.remote_root), ran.stderr
    ssh = subprocess.run(
        ["ssh", "-F", env["COLABLINK_SSH_CONFIG"], "-o", "BatchMode=yes", "colablink-default",
         "echo through"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (ssh.returncode, ssh.stdout) == (0, "through\n"), ssh.stderr
    assert channel.endpoint.refused == []


def test_init_colab_creates_a_session_when_there_is_none(channel: Channel, tmp_path: Path) -> None:
    env, project = setup(channel, tmp_path)
    state = channel.home / ".config" / "colab-cli" / "sessions.json"
    env["STANDIN_SESSION"] = json.dumps(json.loads(state.read_text())[SESSION])
    env["REAL_COLAB"] = str(channel.cli)
    state.unlink()
    standin = tmp_path / "bin" / "colab"
    standin.parent.mkdir()
    standin.write_text(f"#!{sys.executable}\n{NEW_STANDIN}")
    standin.chmod(0o755)
    env["PATH"] = f"{standin.parent}{os.pathsep}{env['PATH']}"
    done = colablink(env, project, *init_args(channel, "--gpu", "T4"))
    assert done.returncode == 0, done.stderr
    assert "Created runtime 'colablink' with ['--gpu', 'T4']" in done.stdout
    ran = colablink(env, project, "exec", "true")
    assert ran.returncode == 0, ran.stderr
