"""The window as holder for ``colablink proxy``: ``ssh colablink-<profile>`` rides its connection.

When no ``watch`` daemon holds the profile, the helper's own connection is the one the runtime's
channel carries (Colab's takes one at a time). This socket answers ``proxy`` requests the way the
daemon does, so OpenSSH and Remote-SSH reach sshd through it instead of dialling a second time.
If another window already serves the profile, this one leaves it be.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colablink.daemon.proxy_relay import serve_proxy
from colablink.daemon.wire import (
    CONTROL,
    ConnectionClosed,
    decode_control,
    encode_control,
    read_frame,
)

if TYPE_CHECKING:
    from colablink.connection import Connection

log = logging.getLogger(__name__)


class ProxySocket:
    def __init__(self, connection: Connection, path: Path) -> None:
        self._connection = connection
        self._path = path
        self._listener: socket.socket | None = None

    def start(self) -> bool:
        """Listen, unless a live holder already answers there; True when this one serves."""
        if _answers(self._path):
            log.info("Another window serves colablink proxy for %s", self._connection.profile.name)
            return False
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        previous = os.umask(0o177)
        try:
            listener.bind(str(self._path))
        finally:
            os.umask(previous)
        listener.listen(16)
        self._listener = listener
        name = f"colablink-proxy-{self._connection.profile.name}"
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name=name).start()
        return True

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        # Shut down first: close alone does not wake a thread blocked in accept.
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        def answer(message: dict[str, Any]) -> None:
            client.sendall(encode_control(message))

        with client:
            try:
                kind, payload = read_frame(client)
                request = decode_control(payload) if kind == CONTROL else {}
                if request.get("op") != "proxy":
                    refusal = {"kind": "UsageError", "message": "Only proxy is served here."}
                    answer({"error": refusal})
                    return
                serve_proxy(self._connection, client, answer)
            except (OSError, ValueError, ConnectionClosed):
                pass


def _answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True
