"""The end-of-session leak check notices what a test leaves running, and nothing after cleanup."""

from __future__ import annotations

import os
import subprocess

from support.leaks import leaked_processes
from support.runtimes import start_root_runtime, start_user_runtime
from support.system import SESSION_MARKER


def test_a_left_running_sshd_and_user_process_are_reported() -> None:
    session = os.environ[SESSION_MARKER]
    root_handle = start_root_runtime()
    user_handle = start_user_runtime()
    try:
        leaked = leaked_processes(session)
        commands = list(leaked.values())
        assert any(str(root_handle.state_dir) in command for command in commands), commands
        assert any(f"[{user_handle.username}]" in command for command in commands), commands
    finally:
        root_handle.close()
        user_handle.close()
    assert not any(
        root_handle.username in command or user_handle.username in command
        for command in leaked_processes(session).values()
    )


def test_a_left_running_local_process_is_reported() -> None:
    session = os.environ[SESSION_MARKER]
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        assert sleeper.pid in leaked_processes(session)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert sleeper.pid not in leaked_processes(session)
