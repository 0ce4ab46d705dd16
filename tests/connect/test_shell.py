"""``colablink shell`` on a real terminal: starts in the source root, follows resizes, exits
with the remote shell's status."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time

from .conftest import Setup, end


def set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def read_until(fd: int, needle: bytes, timeout: float = 15) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"never saw {needle!r}; got {seen[-500:]!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_shell_follows_resizes_and_returns_the_exit_status(live: Setup) -> None:
    controller, terminal = pty.openpty()
    set_size(terminal, 33, 91)
    process = subprocess.Popen(
        [sys.executable, "-m", "colablink", "shell"],
        # A stale exported size must not pin the remote shell's size.
        env={**live.env, "COLUMNS": "80", "LINES": "24"},
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    try:
        read_until(controller, b"$ ")  # the remote prompt: typed-ahead input may be dropped
        os.write(controller, b"echo at:$(pwd); echo size:$(stty size)\n")
        out = read_until(controller, b"size:33 91")
        assert f"at:{live.profile.remote_root}".encode() in out
        set_size(controller, 40, 120)
        process.send_signal(signal.SIGWINCH)
        time.sleep(0.3)
        os.write(controller, b"echo size:$(stty size)\n")
        read_until(controller, b"size:40 120")
        os.write(controller, b"exit 5\n")
        assert process.wait(timeout=15) == 5
    finally:
        end(process)
        os.close(controller)
