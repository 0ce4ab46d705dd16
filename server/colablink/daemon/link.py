"""Talking to a ``colablink watch`` daemon that already holds a profile, over its unix socket.

Then the helper opens no second SSH connection (and runs no second sync) for exec, status,
download, forwards, terminals, flush, sync passes and the Runs view (list, attach): the daemon does
them on its connection and with its sync engine, whose events the helper follows. Output arrives
as frames and goes to callbacks, never to this process's stdout (which carries JSON-RPC).
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colablink.daemon.address import socket_path
from colablink.daemon.client import (
    DaemonClient,
    DaemonGone,
    DaemonPty,
    connect,
    raise_remote_error,
)
from colablink.daemon.wire import (
    CONTROL,
    STDERR,
    STDOUT,
    ConnectionClosed,
    FrameReader,
    decode_control,
    encode_control,
)
from colablink.ssh.runs import Detached, RunInfo

if TYPE_CHECKING:
    from colablink.daemon.client import OnEvent

_READ_SIZE = 1 << 16
# How often a running command checks whether it was cancelled.
_CANCEL_POLL_S = 0.05


class DaemonUnavailable(DaemonGone):
    """The daemon's socket refused the connection: nothing was started, so retrying is safe."""


class DaemonLink:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def find(cls, profile_name: str) -> DaemonLink | None:
        """The daemon holding ``profile_name``, if one answers on its socket."""
        link = cls(socket_path(profile_name))
        try:
            link.call({"op": "ping"})
        except DaemonUnavailable:
            return None
        return link

    def _connect(self) -> DaemonClient:
        client = connect(str(self.path))
        if client is None:
            raise DaemonUnavailable("the local agent stopped.")
        return client

    def _dial(self, request: dict[str, Any]) -> socket.socket:
        """A socket of our own to the daemon (we poll it for cancels), with ``request`` sent."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.path))
            sock.sendall(encode_control(request))
        except OSError:
            sock.close()
            raise DaemonUnavailable("the local agent stopped.") from None
        return sock

    def call(self, request: dict[str, Any], on_event: OnEvent | None = None) -> dict[str, Any]:
        with self._connect() as client:
            return client.call(request, on_event=on_event)

    def transfer(
        self,
        request: dict[str, Any],
        cancel: threading.Event,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """An upload or download through the daemon; setting ``cancel`` cancels it there.

        After the cancel, the daemon's answer (``Cancelled``, once its temps are gone) is awaited.
        """
        sock = self._dial(request)
        try:
            reader = FrameReader()
            asked = False
            while True:
                if cancel.is_set() and not asked:
                    asked = True
                    sock.sendall(encode_control({"op": "cancel"}))
                for kind, payload in _frames(sock, reader, "during the transfer"):
                    message = decode_control(payload) if kind == CONTROL else {}
                    if "progress" in message and on_progress is not None:
                        done, total = message["progress"]
                        on_progress(int(done), int(total))
                    if "error" in message:
                        raise_remote_error(message["error"])
                    if "ok" in message:
                        result = message["ok"]
                        return result if isinstance(result, dict) else {}
        finally:
            sock.close()

    def follow_sync(self) -> tuple[DaemonClient, dict[str, Any]]:
        """A connection streaming the daemon's sync events, and the sync's current state event.

        Read the events with ``client.events()``; ``client.close()`` ends the stream.
        """
        client = self._connect()
        try:
            return client, client.call({"op": "sync_events"})
        except BaseException:
            client.close()
            raise

    def open_pty(self, cols: int, rows: int, cwd: str | None) -> DaemonPty:
        client = self._connect()
        try:
            return client.open_pty(cols, rows, cwd)
        except BaseException:
            client.close()
            raise

    def exec(
        self,
        command: list[str] | str,
        *,
        on_stdout: Callable[[bytes], None],
        on_stderr: Callable[[bytes], None],
        cancel: threading.Event,
    ) -> int:
        sock = self._dial({"op": "exec", "command": command, "stdin": False})
        try:
            code = self._stream(sock, on_stdout, on_stderr, cancel)
        finally:
            sock.close()
        return -1 if code is None else code

    def runs(self) -> list[RunInfo]:
        """The runs the daemon's supervisor keeps, oldest first."""
        return [RunInfo.parse(run) for run in self.call({"op": "runs"}).get("runs", [])]

    def attach(
        self,
        run_id: str,
        *,
        on_stdout: Callable[[bytes], None],
        on_stderr: Callable[[bytes], None],
        from_pos: int,
        cancel: threading.Event,
        detach: threading.Event,
        on_notice: Callable[[str], object],
    ) -> int:
        """Follow a run to its end from byte ``from_pos``; ``cancel`` interrupts it, ``detach``
        leaves it running (``Detached``), as ``Connection.attach`` does."""
        sock = self._dial({"op": "attach", "id": run_id, "from": from_pos})
        try:
            code = self._stream(sock, on_stdout, on_stderr, cancel, detach, on_notice)
        finally:
            sock.close()
        if code is None:
            raise Detached(run_id)
        return code

    @staticmethod
    def _stream(
        sock: socket.socket,
        on_stdout: Callable[[bytes], None],
        on_stderr: Callable[[bytes], None],
        cancel: threading.Event,
        detach: threading.Event | None = None,
        on_notice: Callable[[str], object] | None = None,
    ) -> int | None:
        """The exit code, or None once ``detach`` was set (our leaving stops only the following)."""
        reader = FrameReader()
        interrupted = False
        while True:
            if detach is not None and detach.is_set():
                return None
            if cancel.is_set() and not interrupted:
                interrupted = True
                sock.sendall(encode_control({"op": "interrupt"}))
            for kind, payload in _frames(sock, reader, "while the command was running"):
                if kind == STDOUT:
                    on_stdout(payload)
                elif kind == STDERR:
                    on_stderr(payload)
                elif kind == CONTROL:
                    message = decode_control(payload)
                    if "exit" in message:
                        return int(message["exit"])
                    if "notice" in message and on_notice is not None:
                        on_notice(str(message["notice"]))
                    if "error" in message:
                        raise_remote_error(message["error"])


def _frames(sock: socket.socket, reader: FrameReader, during: str) -> list[tuple[int, bytes]]:
    """The frames that arrive within one cancel poll (none when nothing did)."""
    ready, _, _ = select.select([sock], [], [], _CANCEL_POLL_S)
    if not ready:
        return []
    data = sock.recv(_READ_SIZE)
    if not data:
        raise DaemonGone(f"the local agent stopped {during}.")
    try:
        return reader.feed(data)
    except ConnectionClosed:
        raise DaemonGone("the local agent sent a malformed frame.") from None
