"""What an editor terminal runs on: a PTY channel of the helper's own connection, or one the
profile's ``colablink watch`` daemon holds (``daemon.client.DaemonPty``, the same methods)."""

from __future__ import annotations

from typing import Protocol

import paramiko

from colablink.ssh import pty
from colablink.ssh.session import close_channel, send_all

_READ_SIZE = 1 << 16


class Terminal(Protocol):
    def read(self) -> bytes:
        """The next output; ``b""`` once the shell ended."""
        ...

    def write(self, data: bytes) -> None: ...

    def resize(self, cols: int, rows: int) -> None: ...

    def exit_status(self) -> int:
        """After ``read`` returned ``b""``: the shell's status, -1 when it ended without one."""
        ...

    def close(self) -> None: ...


class ChannelTerminal:
    """A PTY channel on the helper's own connection."""

    def __init__(self, channel: paramiko.Channel) -> None:
        self.channel = channel

    def read(self) -> bytes:
        # A blocking recv costs nothing while the terminal is idle; b"" means EOF or closed.
        return self.channel.recv(_READ_SIZE)

    def write(self, data: bytes) -> None:
        # Through session's helpers: a send racing the runtime's close would drop the connection.
        send_all(self.channel, data)

    def resize(self, cols: int, rows: int) -> None:
        pty.resize(self.channel, cols, rows)

    def exit_status(self) -> int:
        return self.channel.recv_exit_status()

    def close(self) -> None:
        close_channel(self.channel)
