"""Client of the remote agent over any duplex byte stream (an SSH exec channel, or pipes).

Requests are pipelined: ``request`` writes a frame and returns a future at once; one reader
thread resolves futures as replies arrive and hands watch events to a callback.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

import paramiko

from colablink.errors import RemoteError
from colablink.ssh.bootstrap import framed_source
from colablink.ssh.session import ConnectionLost as SessionConnectionLost
from colablink.ssh.session import close_channel, send_all
from colablink.sync.wire import (
    FRAME_HEADER,
    MAX_BODY,
    MAX_HEADER,
    PROTOCOL_VERSION,
    agent_source,
    encode,
)

Header = dict[str, Any]
EventHandler = Callable[[Header, bytes], None]
DataHandler = Callable[[Header, bytes], None]

RECV_SIZE = 256 * 1024
# Frame bodies up to this size are sent in one write with their header.
SMALL_BODY = 32 * 1024


class ConnectionLost(Exception):
    """The stream to the agent ended or failed; everything in flight is unknown."""


class Duplex(Protocol):
    def write(self, data: bytes | memoryview) -> None: ...
    def read(self, size: int) -> bytes: ...
    def close(self) -> None: ...


class ChannelDuplex:
    """An SSH exec channel, sent to through the session's ordered, memoryview-based ``send_all``."""

    def __init__(self, channel: paramiko.Channel) -> None:
        self.channel = channel

    def write(self, data: bytes | memoryview) -> None:
        try:
            send_all(self.channel, data)
        except SessionConnectionLost as exc:
            raise ConnectionLost("the SSH channel closed") from exc

    def read(self, size: int) -> bytes:
        return self.channel.recv(size)

    def close(self) -> None:
        close_channel(self.channel)


class _Buffered:
    def __init__(self, duplex: Duplex) -> None:
        self.duplex = duplex
        self.buf = bytearray()
        self.pos = 0

    def take(self, size: int) -> bytes:
        while len(self.buf) - self.pos < size:
            want = max(size - (len(self.buf) - self.pos), RECV_SIZE)
            chunk = self.duplex.read(min(want, 4 * RECV_SIZE))
            if not chunk:
                raise ConnectionLost("the agent's stream ended")
            if self.pos:
                del self.buf[: self.pos]
                self.pos = 0
            self.buf += chunk
        data = bytes(self.buf[self.pos : self.pos + size])
        self.pos += size
        return data


def _incompatible(refusal: RemoteError) -> str:
    return f"the runtime's sync agent is incompatible ({refusal.message})"


class SyncAgentClient:
    """One running remote agent. Thread-safe for requests; events arrive on the reader thread."""

    def __init__(
        self,
        duplex: Duplex,
        on_event: EventHandler | None = None,
        on_lost: Callable[[BaseException], None] | None = None,
        *,
        source: bytes | None = None,
    ) -> None:
        self.duplex = duplex
        self.on_event = on_event
        self.on_lost = on_lost
        self.source = agent_source() if source is None else source
        self.seq = itertools.count(1)
        self.fids = itertools.count(1)
        self.pending: dict[int, tuple[Future[Header], DataHandler | None]] = {}
        self.lock = threading.Lock()
        self.write_lock = threading.Lock()
        self.closed = False
        self.lost: BaseException | None = None
        self.reader = threading.Thread(
            target=self._read_loop, name="colablink-agent-rx", daemon=True
        )
        self.info: Header = {}

    def begin(self) -> Future[Header]:
        """Send the agent's source and a hello, without waiting: requests may follow at once.

        The agent answers in order, so an incompatible agent's refusal of the hello arrives
        first and ends the client with that reason before any later reply is read.
        """
        self.reader.start()
        self._write(framed_source(self.source))
        hello = self.request({"op": "hello", "version": PROTOCOL_VERSION})
        hello.add_done_callback(self._hello_answered)
        return hello

    def _hello_answered(self, hello: Future[Header]) -> None:
        exc = hello.exception()
        if exc is None:
            self.info = hello.result()
        elif isinstance(exc, RemoteError):
            self._fail(RemoteError(_incompatible(exc)))

    def start(self, timeout: float = 30.0) -> Header:
        """Send the agent's source, then check that both sides speak the same protocol."""
        try:
            return self.begin().result(timeout)
        except RemoteError as exc:
            # Said here, not read back from the client: its done-callback may not have run yet.
            raise RemoteError(_incompatible(exc)) from None

    def request(
        self, header: Header, body: bytes | memoryview = b"", on_data: DataHandler | None = None
    ) -> Future[Header]:
        future: Future[Header] = Future()
        with self.lock:
            if self.lost is not None:
                raise self._lost_error()
            seq = next(self.seq)
            self.pending[seq] = (future, on_data)
        self.send({**header, "seq": seq}, body)
        return future

    def call(
        self, header: Header, body: bytes | memoryview = b"", timeout: float = 120.0
    ) -> Header:
        return self.request(header, body).result(timeout)

    def send(self, header: Header, body: bytes | memoryview = b"") -> None:
        """A frame that gets no reply of its own (a chunk of a streamed file)."""
        if len(body) > MAX_BODY:
            raise ValueError("frame body too large")
        head = encode(header, len(body))
        if len(body) <= SMALL_BODY:
            # One write, so a small frame (a saved file) travels as one SSH packet.
            head += body
            body = b""
        with self.write_lock:
            self._write(head)
            if body:
                self._write(body)

    def new_fid(self) -> int:
        return next(self.fids)

    def _write(self, data: bytes | memoryview) -> None:
        try:
            self.duplex.write(data)
        except (OSError, EOFError, ConnectionLost) as exc:
            self._fail(exc)
            raise ConnectionLost(str(exc) or "the SSH channel closed") from exc
        except Exception as exc:  # paramiko raises SSHException subclasses of Exception
            self._fail(exc)
            raise ConnectionLost(str(exc) or type(exc).__name__) from exc

    def _read_loop(self) -> None:
        stream = _Buffered(self.duplex)
        try:
            while True:
                head_len, body_len = FRAME_HEADER.unpack(stream.take(FRAME_HEADER.size))
                if head_len > MAX_HEADER or body_len > MAX_BODY:
                    raise ConnectionLost("the agent sent an oversized frame")
                header = json.loads(stream.take(head_len))
                body = stream.take(body_len) if body_len else b""
                if not isinstance(header, dict):
                    raise ConnectionLost("the agent sent a malformed frame")
                self._dispatch(header, body)
        except Exception as exc:
            self._fail(exc)

    def _dispatch(self, header: Header, body: bytes) -> None:
        op = header.get("op")
        seq = header.get("seq")
        if op in ("changed", "moved", "removed", "rescan"):
            if self.on_event is not None:
                self.on_event(header, body)
            return
        with self.lock:
            slot = self.pending.get(seq) if isinstance(seq, int) else None
            if slot is not None and op in ("ok", "error") and isinstance(seq, int):
                del self.pending[seq]
        if slot is None:
            return
        future, on_data = slot
        if op == "data":
            if on_data is not None and not future.done():
                try:
                    on_data(header, body)
                except Exception as exc:
                    future.set_exception(exc)
            return
        if future.done():
            return
        if op == "error":
            future.set_exception(RemoteError(str(header.get("message", "the agent failed"))))
        else:
            future.set_result(header)

    def _fail(self, exc: BaseException) -> None:
        with self.lock:
            if self.lost is not None:
                return
            self.lost = exc if not self.closed else ConnectionLost("closed")
            pending = list(self.pending.values())
            self.pending.clear()
        for future, _ in pending:
            if not future.done():
                future.set_exception(self._lost_error())
        if self.on_lost is not None and not self.closed:
            self.on_lost(exc)

    def _lost_error(self) -> Exception:
        """What a request to a client that ended raises: the agent's refusal, as it was, or
        the stream's end."""
        lost = self.lost
        if isinstance(lost, RemoteError):
            return RemoteError(lost.message)
        return ConnectionLost(str(lost) or "connection lost")

    @property
    def alive(self) -> bool:
        return self.lost is None

    def close(self) -> None:
        """Close stdin: the agent removes its temp files and exits."""
        self.closed = True
        # Closing a dead channel may raise anything paramiko likes; it is closed either way.
        with contextlib.suppress(Exception):
            self.duplex.close()
        self._fail(ConnectionLost("closed"))
