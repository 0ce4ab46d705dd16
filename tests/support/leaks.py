"""The end-of-session check: no sshd, agent or helper a test started may outlive the run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from colablink_runtime import procs

from .accounts import CREATED, remove_account
from .system import SESSION_MARKER, STATE_DIRS, pids_of_user

DEFAULT_STATE_ROOT = Path("/var/lib/colablink-runtime")


def _has_marker(pid: int, marker: bytes) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return marker in environ.split(b"\0")


def leaked_processes(session_id: str) -> dict[int, str]:
    """Processes this session started (by marker or by test account) that still run."""
    marker = f"{SESSION_MARKER}={session_id}".encode()
    me = os.getpid()
    found: dict[int, str] = {}
    for pid in procs.all_pids():
        if pid == me or procs.is_zombie(pid):
            continue
        if _has_marker(pid, marker):
            found[pid] = " ".join(procs.cmdline_of(pid))[:200]
    # sshd overwrites its environment with its process title, so it is known by its config path.
    state_dirs = [str(path) for path in STATE_DIRS]
    state_dirs += [f"/colablink-runtime/{name}/" for name in CREATED]
    for pid in procs.all_pids():
        command = " ".join(procs.cmdline_of(pid))
        if pid != me and any(state in command for state in state_dirs):
            found[pid] = command[:200]
    for name in sorted(CREATED):
        for pid in pids_of_user(name):
            found[pid] = f"[{name}] " + " ".join(procs.cmdline_of(pid))[:200]
    return found


def clean_up(pids: list[int]) -> None:
    procs.end_processes(pids)
    for name in sorted(CREATED):
        remove_account(name)
        shutil.rmtree(DEFAULT_STATE_ROOT / name, ignore_errors=True)
