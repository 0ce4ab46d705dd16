"""The runtime's own OpenSSH server: installed if missing, own config, keys and pid file.

The system's sshd and its sshd_config are never touched; ours is started by absolute path.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from colablink_runtime import procs
from colablink_runtime.errors import PortInUse, RuntimeSetupError
from colablink_runtime.tools import find_tool, tool

SSHD_PATH = Path("/usr/sbin/sshd")
SFTP_SERVER = Path("/usr/lib/openssh/sftp-server")
HOST_KEY_TYPES = ("ed25519", "ecdsa")
# sshd starts rekeys itself well before the client's 2^29-byte threshold, where paramiko's own
# rekey deadlocks a long download.
REKEY_LIMIT = "256M 1h"


def ensure_sshd(sshd_path: Path = SSHD_PATH) -> Path:
    """Return sshd's path, installing openssh-server with apt-get first when it is missing."""
    if sshd_path.exists():
        return sshd_path
    if os.geteuid() != 0:
        raise RuntimeSetupError(
            "OpenSSH's sshd is not installed and installing it needs root; "
            "install the openssh-server package and run again."
        )
    apt_get = find_tool("apt-get")
    if apt_get is None:
        raise RuntimeSetupError(
            "OpenSSH's sshd is not installed and there is no apt-get to install it; "
            "install the openssh-server package and run again."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in ([apt_get, "update", "-qq"], [apt_get, "install", "-y", "-qq", "openssh-server"]):
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines()
            reason = lines[-1] if lines else f"exit status {result.returncode}"
            raise RuntimeSetupError(
                f"Installing openssh-server with apt-get failed ({reason}); "
                "install it by hand and run again."
            )
    if not sshd_path.exists():
        raise RuntimeSetupError(
            f"apt-get installed openssh-server but {sshd_path} is still missing; "
            "install OpenSSH's server by hand and run again."
        )
    return sshd_path


def ensure_host_keys(state_dir: Path) -> list[Path]:
    """Create the host keys once: the same keys across restarts keep pinned clients working."""
    keys = []
    for key_type in HOST_KEY_TYPES:
        key = state_dir / f"ssh_host_{key_type}_key"
        if not key.exists() or not key.with_suffix(".pub").exists():
            key.unlink(missing_ok=True)
            argv = [tool("ssh-keygen"), "-q", "-t", key_type, "-N", "", "-C", "colablink"]
            result = subprocess.run(
                [*argv, "-f", str(key)],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeSetupError(f"ssh-keygen could not make a {key_type} host key.")
        key.chmod(0o600)
        keys.append(key)
    return keys


def public_host_keys(keys: list[Path]) -> list[str]:
    """The keys as "type base64", the form the connection info carries."""
    result = []
    for key in keys:
        parts = (Path(f"{key}.pub")).read_text().split()
        result.append(f"{parts[0]} {parts[1]}")
    return result


@dataclass(frozen=True)
class SshdConfig:
    port: int
    listen_address: str
    username: str
    host_keys: list[Path]
    pid_file: Path
    authorized_keys: Path
    password_auth: bool
    setenv_line: str

    def render(self) -> str:
        yes_no = "yes" if self.password_auth else "no"
        lines = [
            "# Written by the ColabLink runtime; the system sshd_config is left alone.",
            f"Port {self.port}",
            f"ListenAddress {self.listen_address}",
            *(f'HostKey "{key}"' for key in self.host_keys),
            f'PidFile "{self.pid_file}"',
            f'AuthorizedKeysFile .ssh/authorized_keys "{self.authorized_keys}"',
            "PermitRootLogin no",
            f"AllowUsers {self.username}",
            "PubkeyAuthentication yes",
            f"PasswordAuthentication {yes_no}",
            "KbdInteractiveAuthentication no",
            "PermitEmptyPasswords no",
            "UsePAM no",
            "StrictModes yes",
            "ClientAliveInterval 30",
            "ClientAliveCountMax 4",
            f"RekeyLimit {REKEY_LIMIT}",
            "AllowTcpForwarding yes",
            "X11Forwarding no",
            "PrintMotd no",
            "PrintLastLog no",
            "MaxStartups 50:30:100",
            f"Subsystem sftp {SFTP_SERVER}",
        ]
        if self.setenv_line:
            lines.append(self.setenv_line)
        return "\n".join(lines) + "\n"


def start_sshd(
    sshd_path: Path, config_path: Path, log_path: Path, port: int, timeout: float = 15.0
) -> subprocess.Popen[bytes]:
    """Start sshd in the foreground of its own session and wait until it listens on ``port``."""
    log_path.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [str(sshd_path), "-D", "-f", str(config_path), "-E", str(log_path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = log_path.read_text(errors="replace") if log_path.exists() else ""
            if "Address already in use" in log:
                raise PortInUse(f"Port {port} is already in use; choose another port.")
            last = log.strip().splitlines()[-1] if log.strip() else f"exit {proc.returncode}"
            raise RuntimeSetupError(f"sshd stopped right after starting: {last}.")
        if procs.listens_on(proc.pid, port):
            return proc
        time.sleep(0.02)
    procs.end_processes([proc.pid])
    proc.wait()
    raise RuntimeSetupError(f"sshd did not start listening on port {port} within {timeout:.0f} s.")


def recorded_sshd(pid_file: Path, config_path: Path) -> int | None:
    """The pid of a still-running sshd of ours from an earlier setup, if any."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    # sshd rewrites its command line into a title that still names the config file.
    if procs.alive(pid) and str(config_path) in " ".join(procs.cmdline_of(pid)):
        return pid
    return None
