"""ColabLink's own known_hosts file, and read-only lookups in the user's ~/.ssh/known_hosts.

Each profile's pinned keys are stored under its ``HostKeyAlias`` (``colablink-<profile>``) rather
than under host:port, so a runtime that comes back on a new ngrok address keeps its alias, and
other profiles' lines are never disturbed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import paramiko

from colablink.local import paths
from colablink.local.localfiles import write_atomic


def _read_lines(path: Path) -> list[bytes]:
    try:
        return path.read_bytes().splitlines(keepends=True)
    except FileNotFoundError:
        return []


def _is_for(line: bytes, alias: str) -> bool:
    fields = line.split()
    return bool(fields) and fields[0] == alias.encode("ascii")


def keys_for(alias: str, path: Path | None = None) -> list[str]:
    """The ``type base64`` keys pinned for ``alias``."""
    path = path or paths.known_hosts_path()
    found = []
    for line in _read_lines(path):
        if _is_for(line, alias):
            fields = line.decode("ascii", "replace").split()
            if len(fields) >= 3:
                found.append(f"{fields[1]} {fields[2]}")
    return found


def set_keys(alias: str, host_keys: Iterable[str], path: Path | None = None) -> None:
    """Make ``alias``'s lines exactly ``host_keys``; every other line stays as it was."""
    path = path or paths.known_hosts_path()
    paths.ensure_private_dir(path.parent)
    kept = [line for line in _read_lines(path) if not _is_for(line, alias)]
    if kept and not kept[-1].endswith(b"\n"):
        kept[-1] += b"\n"
    fresh = [f"{alias} {key}\n".encode("ascii") for key in host_keys]
    write_atomic(path, b"".join(kept + fresh), mode=0o600)


def remove(alias: str, path: Path | None = None) -> bool:
    """Drop ``alias``'s lines; return whether there were any."""
    path = path or paths.known_hosts_path()
    lines = _read_lines(path)
    kept = [line for line in lines if not _is_for(line, alias)]
    if len(kept) == len(lines):
        return False
    write_atomic(path, b"".join(kept), mode=0o600)
    return True


def user_known_keys(host: str, port: int, path: Path | None = None) -> list[str]:
    """Keys the user's OpenSSH known_hosts trusts for host:port (hashed entries included)."""
    path = path or paths.user_known_hosts_path()
    if not path.is_file():
        return []
    store = paramiko.HostKeys()
    try:
        store.load(str(path))
    except (OSError, paramiko.SSHException):
        return []
    name = host if port == 22 else f"[{host}]:{port}"
    entry = store.lookup(name)
    if entry is None:
        return []
    return [f"{key.get_name()} {key.get_base64()}" for key in entry.values()]
