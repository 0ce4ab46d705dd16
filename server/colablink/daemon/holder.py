"""Ask a profile's holder for a ``proxy`` stream: after its ``ok`` the socket speaks SSH to sshd.

``colablink proxy`` asks this of the daemon and of an editor window; a ``watch`` daemon started
while a window holds the profile asks it of the window, so its session rides the window's one
connection instead of dialling a second through the transport.
"""

from __future__ import annotations

import socket
from pathlib import Path

from colablink.daemon.wire import (
    CONTROL,
    ConnectionClosed,
    decode_control,
    encode_control,
    read_frame,
)
from colablink.errors import Unreachable


class HolderRefused(Unreachable):
    """A holder answered but could not open the stream (its sshd refuses forwarding, say)."""


def request_proxy(path: Path, timeout: float | None = None) -> socket.socket | None:
    """The stream through the holder at ``path``; None when no holder answers there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        sock.sendall(encode_control({"op": "proxy"}))
        kind, payload = read_frame(sock)
        answer = decode_control(payload) if kind == CONTROL else {}
    except (OSError, ValueError, ConnectionClosed):
        sock.close()
        return None
    if "ok" in answer:
        sock.settimeout(None)
        return sock
    sock.close()
    error = answer.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    raise HolderRefused(str(message or "The holder of the connection refused to relay it."))
