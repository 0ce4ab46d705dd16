"""Connection info for any SSH machine (``init --ssh USER@HOST[:PORT] --identity KEY``).

There is no runtime to print host keys here, so the key must already be trusted in the user's
~/.ssh/known_hosts or be named by its ``SHA256:`` fingerprint; it is never taken on first use.
"""

from __future__ import annotations

import logging
import posixpath
import re
import socket
from pathlib import Path

import paramiko

from colablink.enroll.connection_info import ConnectionInfo
from colablink.errors import HostKeyMismatch, RemoteError, Unreachable, UsageError
from colablink.local import keys, knownhosts
from colablink.ssh.session import Session, SshTarget

_SPEC = re.compile(
    r"^(?P<user>[a-z_][a-z0-9_.-]{0,31})@"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)"
    r"(?::(?P<port>\d{1,5}))?$"
)
# Each probe asks for one key type, so a fingerprint of any of the server's keys can match.
_PROBE_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
)


# A probe for a key type the server lacks fails by design; paramiko would print a traceback.
_PROBE_LOG = logging.getLogger("colablink.enroll.sshbox.probe")
_PROBE_LOG.addHandler(logging.NullHandler())
_PROBE_LOG.propagate = False


def parse_spec(spec: str) -> tuple[str, str, int]:
    """``USER@HOST[:PORT]`` → (user, host, port)."""
    match = _SPEC.match(spec)
    port = int(match.group("port") or 22) if match else 0
    if match is None or not 1 <= port <= 65535:
        raise UsageError(f"--ssh {spec!r} should look like USER@HOST or USER@HOST:PORT.")
    return match.group("user"), match.group("host").strip("[]"), port


def _probe_key(host: str, port: int, key_type: str, timeout: float) -> str | None:
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise Unreachable(f"Cannot connect to {host}:{port} ({exc.strerror or exc}).") from None
    transport = paramiko.Transport(sock)
    transport.set_log_channel(_PROBE_LOG.name)
    try:
        transport.get_security_options().key_types = [key_type]
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
        return f"{key.get_name()} {key.get_base64()}"
    except (paramiko.SSHException, EOFError, OSError):
        return None
    finally:
        transport.close()
        sock.close()


def host_keys_for(
    host: str, port: int, fingerprint: str | None, timeout: float = 15.0
) -> tuple[str, ...]:
    """The host keys to pin: those matching ``fingerprint``, else those in ~/.ssh/known_hosts."""
    if fingerprint is None:
        known = knownhosts.user_known_keys(host, port)
        if not known:
            raise HostKeyMismatch(
                f"{host}:{port} is not in your ~/.ssh/known_hosts; connect once with ssh and check "
                "its fingerprint, or pass --host-key SHA256:... as published by its owner."
            )
        return tuple(known)
    wanted = fingerprint if fingerprint.startswith("SHA256:") else f"SHA256:{fingerprint}"
    for key_type in _PROBE_TYPES:
        key = _probe_key(host, port, key_type, timeout)
        if key is not None and keys.fingerprint(key) == wanted.rstrip("="):
            return (key,)
    raise HostKeyMismatch(
        f"{host}:{port} offers no host key with fingerprint {wanted}, so nothing was sent."
    )


def connection_info(
    spec: str,
    identity: Path,
    fingerprint: str | None,
    remote_root: str | None = None,
    timeout: float = 15.0,
) -> ConnectionInfo:
    """Resolve the pinned keys and the remote root for an SSH machine.

    The root defaults to ``~/colablink`` rather than the home itself: sync mirrors the project
    into the root, and a home directory holds much else.
    """
    user, host, port = parse_spec(spec)
    identity = identity.expanduser().absolute()
    if not identity.is_file():
        raise UsageError(f"--identity {identity} does not exist.")
    if remote_root is not None and (not remote_root.strip() or "\0" in remote_root):
        raise UsageError("--remote-root must be a directory path.")
    host_keys = host_keys_for(host, port, fingerprint, timeout)
    target = SshTarget(host, port, user, host_keys, key_path=identity)
    with Session.connect(target, timeout=timeout) as session:
        home = session.run('printf %s "$HOME"').stdout.decode("utf-8", "replace")
    if not home.startswith("/"):
        raise RemoteError(f"{user}@{host} has no usable home directory to work in.")
    root = posixpath.normpath(posixpath.join(home, remote_root or "colablink"))
    return ConnectionInfo(
        host=host, port=port, username=user, remote_root=root, host_keys=host_keys
    )
