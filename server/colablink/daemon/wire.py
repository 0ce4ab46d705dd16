"""The daemon's framing: one byte of kind, four of length, then the payload.

Control messages are JSON objects; a command's output and input travel as raw byte frames so a
binary stream never goes through JSON. This module and ``client.py`` stay free of paramiko and of
anything slow to import, because the CLI's warm path imports them on every call.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # typing would cost every warm call its import time
if TYPE_CHECKING:
    from typing import Any, Protocol

    class FrameSocket(Protocol):
        def sendall(self, data: bytes, /) -> None: ...

        def recv_into(self, buffer: memoryview, nbytes: int = 0, /) -> int: ...


CONTROL = 0x4A  # "J": a JSON object
STDOUT = 0x4F  # "O"
STDERR = 0x45  # "E"
STDIN = 0x49  # "I"

HEADER_SIZE = 5
MAX_FRAME = 1 << 24


class ConnectionClosed(Exception):
    """The other end closed the socket (possibly in the middle of a frame)."""


def encode(kind: int, payload: bytes) -> bytes:
    return bytes((kind,)) + len(payload).to_bytes(4, "big") + payload


def encode_control(message: dict[str, Any]) -> bytes:
    return encode(CONTROL, json.dumps(message, separators=(",", ":")).encode())


def recv_exactly(sock: FrameSocket, size: int) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:], size - got)
        if n == 0:
            raise ConnectionClosed
        got += n
    return bytes(buffer)


def read_frame(sock: FrameSocket) -> tuple[int, bytes]:
    header = recv_exactly(sock, HEADER_SIZE)
    length = int.from_bytes(header[1:], "big")
    if length > MAX_FRAME:
        raise ConnectionClosed
    return header[0], recv_exactly(sock, length) if length else b""


def decode_control(payload: bytes) -> dict[str, Any]:
    message = json.loads(payload)
    if not isinstance(message, dict):
        raise ConnectionClosed
    return message


class FrameReader:
    """Splits a byte stream into frames, for callers that read whatever the socket has."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        frames: list[tuple[int, bytes]] = []
        while len(self._buffer) >= HEADER_SIZE:
            length = int.from_bytes(self._buffer[1:HEADER_SIZE], "big")
            if length > MAX_FRAME:
                raise ConnectionClosed
            end = HEADER_SIZE + length
            if len(self._buffer) < end:
                break
            frames.append((self._buffer[0], bytes(self._buffer[HEADER_SIZE:end])))
            del self._buffer[:end]
        return frames
