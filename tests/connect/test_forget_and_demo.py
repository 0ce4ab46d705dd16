"""``disconnect --forget`` leaves nothing behind on either side; ``colablink demo`` passes."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest
from colablink.enroll import enrollment
from colablink.enroll.connection_info import connection_info_from_dict
from colablink.local import keys
from support.accounts import create_account, remove_account
from support.runtimes import RuntimeHandle
from support.system import foreign_pythonpath, run_as

from .conftest import end


def remote_authorized_keys(username: str) -> str:
    """Every authorized_keys file the runtime user's sshd could consult, concatenated."""
    home = Path(pwd.getpwnam(username).pw_dir)
    found = [home / ".ssh" / "authorized_keys"]
    found += Path("/var/lib/colablink-runtime").glob(f"{username}/authorized_keys")
    return "".join(path.read_text() for path in found if path.exists())


def test_disconnect_forget_leaves_no_trace(runtime: RuntimeHandle, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "COLABLINK_CONFIG_DIR": str(tmp_path / "config"),
        "COLABLINK_RUNTIME_DIR": str(tmp_path / "run"),
        "COLABLINK_SSH_CONFIG": str(tmp_path / "ssh_config"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name in ("COLABLINK_CONFIG_DIR", "COLABLINK_RUNTIME_DIR", "COLABLINK_SSH_CONFIG"):
            patch.setenv(name, env[name])
        profile = enrollment.enroll(
            connection_info_from_dict(runtime.info),
            profile="gone",
            remote_dir="connection_gone",
            local_dir="connection_gone",
            project_root=tmp_path / "project",
        )
    blob = keys.key_blob(keys.public_line(profile.key_path))
    assert blob in remote_authorized_keys(runtime.username)
    assert "colablink-gone" in (tmp_path / "ssh_config").read_text()

    colablink = [sys.executable, "-m", "colablink"]
    agent = subprocess.Popen([*colablink, "watch"], env=env, stdout=subprocess.PIPE)
    try:
        assert agent.stdout is not None
        assert b"is up" in agent.stdout.readline()
        result = subprocess.run(
            [*colablink, "disconnect", "--forget"], env=env, capture_output=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert agent.wait(timeout=10) == 0
    finally:
        end(agent)

    assert blob not in remote_authorized_keys(runtime.username)
    assert "colablink-gone" not in (tmp_path / "ssh_config").read_text()
    assert not profile.key_path.exists()
    leftovers = [
        path
        for path in (tmp_path / "config").rglob("*")
        if path.is_file() and ("gone" in path.name or blob in path.read_text(errors="replace"))
    ]
    assert leftovers == []
    assert list((tmp_path / "run").glob("*")) == []
    again = subprocess.run([*colablink, "exec", "true"], env=env, capture_output=True, timeout=60)
    assert again.returncode != 0
    assert b"no ColabLink profile yet" in again.stderr


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    sandboxes_before = set(Path("/tmp").glob("colablink-demo-*"))
    home_config = tmp_path / "real-config"
    env = {
        **os.environ,
        "COLABLINK_CONFIG_DIR": str(home_config),
        "COLABLINK_SSH_CONFIG": str(tmp_path / "real-ssh-config"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "colablink", "demo"],
        env=env,
        capture_output=True,
        timeout=240,
    )
    out = result.stdout.decode()
    assert result.returncode == 0, out + result.stderr.decode()
    assert "epoch 3: loss 0.125" in out
    assert '"final_loss": 0.125' in out
    assert "output arrived locally" in out
    # The user's own config and ssh config were never touched.
    assert not home_config.exists()
    assert not (tmp_path / "real-ssh-config").exists()
    assert set(Path("/tmp").glob("colablink-demo-*")) <= sandboxes_before


def test_demo_as_an_unprivileged_user() -> None:
    """Without root the demo runs a key-only runtime as the user itself."""
    user = create_account("cltd")
    try:
        result = run_as(
            user,
            ["/usr/bin/python3", "-m", "colablink", "demo"],
            {"PYTHONPATH": foreign_pythonpath()},
            timeout=240,
        )
        out = result.stdout.decode()
        assert result.returncode == 0, out + result.stderr.decode()
        assert "key-only sshd" in out
        assert '"final_loss": 0.125' in out
        home = Path(pwd.getpwnam(user).pw_dir)
        assert not (home / ".ssh" / "config").exists()
    finally:
        remove_account(user)
