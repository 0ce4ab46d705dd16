"""What is running on the (loopback) runtime, seen from the test: its user's processes."""

from __future__ import annotations

import os
from pathlib import Path

from colablink_runtime import procs
from support.system import pids_of_user


def remote_sleeps(username: str, seconds: str = "100") -> list[list[str]]:
    commands = [procs.cmdline_of(pid) for pid in pids_of_user(username)]
    return [cmd for cmd in commands if cmd[:2] == ["sleep", seconds]]


def tcp_peer_ports(pid: int) -> list[int]:
    """Remote ports of the TCP connections process ``pid`` holds (IPv4 and IPv6)."""
    inodes: set[str] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports: list[int] = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.append(int(fields[2].rsplit(":", 1)[1], 16))
    return ports
