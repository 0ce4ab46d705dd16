"""Serve one ``colablink proxy`` request: after the ``ok`` the socket is a byte stream to sshd.

The holder of a profile's connection (the ``watch`` daemon, or an editor window's helper) answers
on its unix socket; both run this, so ``ssh colablink-<profile>`` rides whichever holds it.
"""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING, Any

from colablink.errors import ColabLinkError
from colablink.ssh.session import ConnectionLost, close_channel, send_all, shutdown_write

if TYPE_CHECKING:
    from collections.abc import Callable

    import paramiko

    from colablink.connection import Connection


def serve_proxy(
    connection: Connection, client: socket.socket, answer: Callable[[dict[str, Any]], None]
) -> None:
    """Open the channel to sshd, answer ``ok`` (or the one-sentence error), then relay."""
    try:
        channel = connection.open_to_sshd()
    except ColabLinkError as exc:
        answer({"error": {"kind": type(exc).__name__, "message": exc.message}})
        return
    answer({"ok": {}})
    down = threading.Thread(
        target=_sshd_to_client, args=(channel, client), daemon=True, name="proxy-down"
    )
    down.start()
    try:
        while data := client.recv(1 << 16):
            send_all(channel, data)
        shutdown_write(channel)
        down.join()
    except (ConnectionLost, OSError):
        pass
    finally:
        close_channel(channel)


def _sshd_to_client(channel: paramiko.Channel, client: socket.socket) -> None:
    try:
        while chunk := channel.recv(1 << 16):
            client.sendall(chunk)
        client.shutdown(socket.SHUT_WR)
    except OSError:
        pass
