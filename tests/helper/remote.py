"""What is running on the (loopback) runtime, seen from the test: its user's processes."""

from __future__ import annotations

from colablink_runtime import procs
from support.system import pids_of_user


def remote_commands(username: str) -> list[list[str]]:
    return [procs.cmdline_of(pid) for pid in pids_of_user(username)]


def remote_sleeps(username: str, seconds: str = "100") -> list[list[str]]:
    return [cmd for cmd in remote_commands(username) if cmd[:2] == ["sleep", seconds]]


def local_children(pid: int) -> list[int]:
    children: list[int] = []
    for candidate in procs.all_pids():
        try:
            stat = open(f"/proc/{candidate}/stat").read()
        except OSError:
            continue
        # Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(candidate)
    return children
