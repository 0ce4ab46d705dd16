"""What is running on the (loopback) runtime, seen from the test: its user's processes."""

from __future__ import annotations

from colablink_runtime import procs
from support.system import pids_of_user


def remote_sleeps(username: str, seconds: str = "100") -> list[list[str]]:
    commands = [procs.cmdline_of(pid) for pid in pids_of_user(username)]
    return [cmd for cmd in commands if cmd[:2] == ["sleep", seconds]]
