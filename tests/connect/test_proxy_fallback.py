"""``colablink proxy`` when the holder is up but its sshd refuses forwarding: say so, dial."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from colablink.connection import Connection
from colablink.errors import ColabLinkError
from colablink.local import knownhosts
from colablink.local.profiles import ProfileStore
from colablink.ssh.sshd_channel import ForwardingRefused
from support.runtimes import RuntimeHandle
from support.system import wait_for

from .conftest import drain, make_profile


def _forwarding_refused(connection: Connection) -> bool:
    try:
        connection.open_to_sshd().close()
    except ForwardingRefused:
        return True
    except ColabLinkError:
        pass
    # A connection accepted before sshd re-read its config still forwards: dial afresh.
    connection.close()
    return False


def test_a_holder_whose_sshd_refuses_forwarding_falls_back_to_the_transport(
    runtime: RuntimeHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = Path(tempfile.mkdtemp(prefix="clp-"))
    env = {
        **os.environ,
        "COLABLINK_CONFIG_DIR": str(base / "config"),
        "COLABLINK_RUNTIME_DIR": str(base / "run"),
    }
    for key in ("COLABLINK_CONFIG_DIR", "COLABLINK_RUNTIME_DIR"):
        monkeypatch.setenv(key, env[key])
    profile = make_profile(runtime, base, name="pf")
    ProfileStore().save(profile)
    config = runtime.state_dir / "sshd_config"
    config.write_text(config.read_text().replace("AllowTcpForwarding yes", "AllowTcpForwarding no"))
    os.kill(int((runtime.state_dir / "sshd.pid").read_text()), signal.SIGHUP)
    with Connection(profile) as probe:
        wait_for(lambda: _forwarding_refused(probe), 10, "sshd to refuse forwarding")

    watch = subprocess.Popen(
        [sys.executable, "-m", "colablink", "watch", "--profile", "pf", "--no-sync"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert watch.stdout is not None
        assert b"is up" in watch.stdout.readline(), "the agent did not start"
        drain(watch)
        known = base / "known_hosts"
        knownhosts.set_keys("pf-runtime", profile.host_keys, known)
        proxy = shlex.join([sys.executable, "-m", "colablink", "proxy", "pf"])
        ssh = subprocess.run(
            ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", f"ProxyCommand={proxy}",
             "-o", "HostKeyAlias=pf-runtime", "-o", f"UserKnownHostsFile={known}",
             "-o", "IdentitiesOnly=yes", "-i", str(runtime.client_key),
             f"{runtime.username}@{runtime.host}", "echo through"],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert (ssh.returncode, ssh.stdout) == (0, "through\n"), ssh.stderr
        # The agent answered, and its refusal reached the user in one sentence.
        assert "colablink: The runtime's sshd refuses port forwarding" in ssh.stderr
        assert watch.poll() is None
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=20)
        shutil.rmtree(base, ignore_errors=True)
