"""``colablink shell``: an interactive login shell on the runtime, in the source root.

The local terminal goes raw and is relayed byte for byte; its size follows local resizes
(SIGWINCH), and the command exits with the remote shell's status.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import signal
import sys
import termios
import tty
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paramiko import Channel

CHUNK = 1 << 15


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from colablink.cli.main import add_profile_option

    parser = subparsers.add_parser("shell", help="open an interactive shell on the runtime")
    add_profile_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from colablink.cli.warm import profile_name
    from colablink.connection import Connection
    from colablink.local.profiles import ProfileStore
    from colablink.ssh import pty
    from colablink.ssh.session import close_channel

    profile = ProfileStore().load(profile_name(getattr(args, "profile", None)))
    with Connection(profile) as connection:
        chan = connection.open_shell(*terminal_size())

        def on_resize(signum: int, frame: FrameType | None) -> None:
            pty.resize(chan, *terminal_size())

        previous = signal.signal(signal.SIGWINCH, on_resize)
        try:
            return relay(chan)
        finally:
            signal.signal(signal.SIGWINCH, previous)
            close_channel(chan)


def terminal_size() -> tuple[int, int]:
    """The terminal's own size: ``shutil``'s reads ``COLUMNS``/``LINES`` first, and an exported
    pair would pin the remote shell to a stale size through every resize."""
    for fd in (sys.stdout.fileno(), sys.stdin.fileno()):
        try:
            size = os.get_terminal_size(fd)
        except OSError:
            continue
        return size.columns, size.lines
    fallback = shutil.get_terminal_size()
    return fallback.columns, fallback.lines


def relay(chan: Channel) -> int:
    """Copy stdin to the channel and the channel to stdout until the remote shell exits.

    Sends go through ``session``'s helpers: a send racing the runtime's close of the channel
    would otherwise make sshd drop the whole connection.
    """
    from colablink.daemon.client import write_all
    from colablink.ssh.session import ConnectionLost, send_all, shutdown_write

    stdin_fd = sys.stdin.fileno()
    saved = termios.tcgetattr(stdin_fd) if os.isatty(stdin_fd) else None
    if saved is not None:
        tty.setraw(stdin_fd)
    reading_stdin = True
    try:
        while True:
            watched: list[Channel | int] = [chan, stdin_fd] if reading_stdin else [chan]
            ready, _, _ = select.select(watched, [], [])
            if chan in ready:
                data = chan.recv(CHUNK)
                if not data:
                    break
                write_all(1, data)
            if stdin_fd in ready:
                data = os.read(stdin_fd, CHUNK)
                if not data:
                    reading_stdin = False
                    shutdown_write(chan)
                    continue
                try:
                    send_all(chan, data)
                except ConnectionLost:
                    # The shell ended as we typed; its output and status are still to be read.
                    reading_stdin = False
    finally:
        if saved is not None:
            termios.tcsetattr(stdin_fd, termios.TCSADRAIN, saved)
    return chan.recv_exit_status()
