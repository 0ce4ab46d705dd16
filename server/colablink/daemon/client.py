"""Talk to a running daemon over its unix socket, without paramiko.

The CLI's warm path lives here: it connects to the daemon's socket, sends one request and streams
the answer. Only stdlib modules that are cheap to import are used (``_socket`` rather than
``socket``, whose enum set-up alone costs milliseconds; ``_signal`` rather than ``signal``).
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # no stubs; same API as signal
import _socket
import os
import select

from colablink import errors
from colablink.daemon.wire import (
    CONTROL,
    STDERR,
    STDIN,
    STDOUT,
    ConnectionClosed,
    FrameReader,
    decode_control,
    encode,
    encode_control,
    read_frame,
)

TYPE_CHECKING = False  # typing would cost every warm call its import time
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    Progress = Callable[[int, int], None]
    OnEvent = Callable[[dict[str, Any]], None]

CHUNK = 1 << 16
# After Ctrl+C, how long to wait for the daemon to say the cancelled transfer left nothing behind
# (or landed): longer than the transfer's own wait for the runtime, so its answer is heard.
CANCEL_WAIT_S = 1.5


class DaemonGone(errors.ColabLinkError):
    """The daemon closed the socket before answering."""


def connect(socket_path: str) -> DaemonClient | None:
    """A client for the daemon listening at ``socket_path``, or None when no daemon is up there."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(socket_path)
    except OSError:
        sock.close()
        return None
    return DaemonClient(sock)


def raise_remote_error(error: dict[str, Any]) -> None:
    """Re-raise an error the daemon reported, as the same ``ColabLinkError`` kind."""
    kind = getattr(errors, str(error.get("kind", "")), errors.ColabLinkError)
    if not (isinstance(kind, type) and issubclass(kind, errors.ColabLinkError)):
        kind = errors.ColabLinkError
    raise kind(str(error.get("message", "the agent failed without saying why.")))


class DaemonClient:
    """One request per connection: the socket is closed once the answer is complete."""

    def __init__(self, sock: _socket.socket) -> None:
        self._sock = sock
        # Where the last ``attach`` stream's output got to: a later attach carries on from there.
        self.reached: int | None = None

    def close(self) -> None:
        """Close the connection; shutting it down first wakes a thread still reading from it."""
        try:  # noqa: SIM105 (contextlib costs the warm path 3.7 ms of imports)
            self._sock.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def call(
        self,
        request: dict[str, Any],
        on_progress: Progress | None = None,
        on_event: OnEvent | None = None,
    ) -> dict[str, Any]:
        """Send a request and wait for its result, passing progress reports and events along."""
        self._sock.sendall(encode_control(request))
        while True:
            message = self._next_control()
            if "progress" in message:
                if on_progress is not None:
                    done, total = message["progress"]
                    on_progress(int(done), int(total))
                continue
            if "event" in message:
                if on_event is not None:
                    on_event(message["event"])
                continue
            return self._result(message)

    def transfer(self, request: dict[str, Any], on_progress: Progress | None) -> dict[str, Any]:
        """``call`` for an upload or download, which Ctrl+C cancels in the daemon too.

        The daemon is told, and its answer awaited briefly: by then both temps are gone.
        """
        try:
            return self.call(request, on_progress=on_progress)
        except KeyboardInterrupt:
            answer = self._cancel()
            if answer is None:
                raise
            # Cancelled, or landed after all (the cancel came too late), or unsure whether it did.
            return self._result(answer)

    def _cancel(self) -> dict[str, Any] | None:
        try:
            self._sock.sendall(encode_control({"op": "cancel"}))
            self._sock.settimeout(CANCEL_WAIT_S)
            while True:
                message = self._next_control()
                if "progress" not in message and "event" not in message:
                    return message
        except (DaemonGone, ConnectionClosed, OSError, ValueError):
            # Gone, slow or out of step: the daemon cancels on our leaving as well.
            return None

    def events(self) -> Iterator[dict[str, Any]]:
        """The events that follow an answer (``sync_events``), until the connection ends."""
        while True:
            try:
                message = self._next_control()
            except (DaemonGone, ConnectionClosed, OSError):
                return
            event = message.get("event")
            if isinstance(event, dict):
                yield event

    def open_pty(self, cols: int, rows: int, cwd: str | None) -> DaemonPty:
        """A login shell on a PTY held by the daemon; this connection then belongs to it."""
        self.call({"op": "pty", "cols": cols, "rows": rows, "cwd": cwd})
        return DaemonPty(self._sock)

    def wait_closed(self) -> None:
        """Block until the daemon closes the connection (it stopped, or stopped what we held)."""
        try:
            while True:
                self._next_control()
        except (DaemonGone, ConnectionClosed):
            return

    def _next_control(self) -> dict[str, Any]:
        try:
            kind, payload = read_frame(self._sock)
        except (ConnectionClosed, ConnectionResetError) as exc:
            raise DaemonGone("the daemon stopped before answering; run the command again.") from exc
        if kind != CONTROL:
            raise DaemonGone(
                "the local agent sent something unexpected; restart it with `colablink watch`."
            )
        return decode_control(payload)

    @staticmethod
    def _result(message: dict[str, Any]) -> dict[str, Any]:
        if "error" in message:
            raise_remote_error(message["error"])
        result = message.get("ok")
        return result if isinstance(result, dict) else {}

    def exec(self, command: list[str] | str, *, forward_stdin: bool) -> int:
        """Run ``command`` remotely, streaming to fds 1 and 2 (and from fd 0); return its exit code.

        Ctrl+C is passed on as an interrupt: the daemon signals the remote process group, and we
        keep reading until the remote side reports how it ended.
        """
        broken: set[int] = set()

        def write(fd: int, data: bytes) -> None:
            if fd in broken:
                return
            try:
                write_all(fd, data)
            except BrokenPipeError:
                # Our reader went away (`| head`): stop the remote side as ssh does.
                broken.add(fd)
                self._send_while_running(encode_control({"op": "interrupt"}))

        request = {"op": "exec", "command": command, "stdin": forward_stdin}
        code = self.stream(request, write, forward_stdin=forward_stdin, interruptible=True)
        return -1 if code is None else code

    def stream(
        self,
        request: dict[str, Any],
        write: Callable[[int, bytes], None],
        *,
        forward_stdin: bool,
        interruptible: bool,
        on_notice: Callable[[str], None] | None = None,
    ) -> int | None:
        """Send an ``exec`` or ``attach`` request and pass its output to ``write(fd, data)``;
        the ``exit`` it ends with (None: an attach that stopped at the output so far).

        ``interruptible``: Ctrl+C is sent on as an interrupt of the run; otherwise it raises
        ``KeyboardInterrupt`` here and our leaving just stops the following.
        """
        self._sock.sendall(encode_control(request))
        if not interruptible:
            return self._exec_loop(None, forward_stdin, write, on_notice)
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        previous_wakeup = _signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        previous_handler = _signal.signal(_signal.SIGINT, lambda *_: None)
        try:
            return self._exec_loop(wake_read, forward_stdin, write, on_notice)
        finally:
            _signal.signal(_signal.SIGINT, previous_handler)
            _signal.set_wakeup_fd(previous_wakeup)
            os.close(wake_read)
            os.close(wake_write)

    def _send_while_running(self, frame: bytes) -> None:
        """Send input for a command that may have just ended: the daemon then closes its side first.

        A closed socket here is no error; the exit status (or the daemon's loss) is read next.
        """
        try:  # noqa: SIM105 (contextlib costs the warm path 3.7 ms of imports)
            self._sock.sendall(frame)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _exec_loop(
        self,
        wake_read: int | None,
        forward_stdin: bool,
        write: Callable[[int, bytes], None],
        on_notice: Callable[[str], None] | None,
    ) -> int | None:
        sock_fd = self._sock.fileno()
        poller = select.poll()
        poller.register(sock_fd, select.POLLIN)
        if wake_read is not None:
            poller.register(wake_read, select.POLLIN)
        if forward_stdin:
            poller.register(0, select.POLLIN)
        reader = FrameReader()
        outputs = {STDOUT: 1, STDERR: 2}
        while True:
            for fd, _ in poller.poll():
                if fd == wake_read:
                    os.read(wake_read, 512)
                    self._send_while_running(encode_control({"op": "interrupt"}))
                elif fd == 0:
                    data = os.read(0, CHUNK)
                    if data:
                        self._send_while_running(encode(STDIN, data))
                    else:
                        poller.unregister(0)
                        self._send_while_running(encode_control({"op": "eof"}))
                else:
                    data = self._sock.recv(CHUNK)
                    if not data:
                        raise DaemonGone("the local agent stopped while the command was running.")
                    for kind, payload in reader.feed(data):
                        if kind == CONTROL:
                            message = decode_control(payload)
                            if "exit" in message:
                                pos = message.get("pos")
                                self.reached = pos if isinstance(pos, int) else None
                                code = message["exit"]
                                return None if code is None else int(code)
                            if "notice" in message:
                                if on_notice is not None:
                                    on_notice(str(message["notice"]))
                                continue
                            self._result(message)
                        elif kind in outputs:
                            write(outputs[kind], payload)


class DaemonPty:
    """A terminal the daemon holds: output, input, resizes and the exit status over one socket."""

    def __init__(self, sock: _socket.socket) -> None:
        self._sock = sock
        self._exit: int | None = None

    def read(self) -> bytes:
        """The next output; ``b""`` once the shell ended (or the daemon went away)."""
        while self._exit is None:
            try:
                kind, payload = read_frame(self._sock)
            except (ConnectionClosed, OSError):
                self._exit = -1
                break
            if kind == STDOUT:
                return payload
            if kind == CONTROL:
                message = decode_control(payload)
                if "exit" in message:
                    self._exit = int(message["exit"])
        return b""

    def exit_status(self) -> int:
        """The shell's exit status once ``read`` returned ``b""``; -1 when it ended without one."""
        return -1 if self._exit is None else self._exit

    def write(self, data: bytes) -> None:
        self._sock.sendall(encode(STDIN, data))

    def resize(self, cols: int, rows: int) -> None:
        self._sock.sendall(encode_control({"op": "resize", "cols": cols, "rows": rows}))

    def close(self) -> None:
        """End the terminal: the daemon closes the shell's channel when this connection ends."""
        try:  # noqa: SIM105 (see DaemonClient.close)
            self._sock.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
