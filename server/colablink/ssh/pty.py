"""An interactive login shell on a pseudo-terminal, starting in a given directory."""

from __future__ import annotations

from collections.abc import Mapping

import paramiko

from colablink.ssh import remote_exec
from colablink.ssh.session import ConnectionLost, Session, close_channel, if_open

DEFAULT_TERM = "xterm-256color"


def shell_command(cwd: str | None, env: Mapping[str, str] | None = None) -> str:
    """A login shell (so the runtime's login environment applies), in ``cwd`` when given, with
    ``env`` exported."""
    return remote_exec.command_line('exec "${SHELL:-/bin/sh}" -l', cwd=cwd, env=env)


def open_shell(
    session: Session,
    cwd: str | None,
    cols: int,
    rows: int,
    env: Mapping[str, str] | None = None,
) -> paramiko.Channel:
    """Open a PTY channel running the user's login shell; its exit status is the shell's."""
    command = shell_command(cwd, env)
    chan = session.open_channel()
    try:
        chan.get_pty(term=DEFAULT_TERM, width=cols, height=rows)
        chan.exec_command(command)
    except (paramiko.SSHException, EOFError, OSError):
        close_channel(chan)
        raise ConnectionLost("The runtime refused to open a terminal; reconnect.") from None
    return chan


def resize(chan: paramiko.Channel, cols: int, rows: int) -> None:
    """Tell the remote terminal its new size (SIGWINCH there); ignored once the shell ended."""
    if_open(chan, lambda: chan.resize_pty(width=cols, height=rows))
