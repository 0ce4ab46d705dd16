"""Reads framed JSON-RPC messages from stdin and makes sure every request gets an answer.

Stock pygls drops unparsable JSON, wrong envelopes and LSP requests whose params do not fit
their type without replying at all; here each of those gets its JSON-RPC error, and the rest is
handed to pygls's protocol unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

import cattrs
from lsprotocol.types import EXIT
from pygls.exceptions import JsonRpcException
from pygls.protocol import JsonRPCProtocol

from colablink.helper.rpc_errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
)

log = logging.getLogger(__name__)

HEADER_LINE_LIMIT = 1 << 16
# No editor message comes near this; a larger length is damage, not a message to wait for.
MAX_BODY = 64 << 20
# Latin-1 decoding of a header never fails, and Content-Length is ASCII anyway.
_CONTENT_LENGTH = re.compile(r"content-length\s*:(.*)", re.IGNORECASE)
# After a bad length the body's extent is unknown: the next header may follow it on one line.
_NEXT_HEADER = re.compile(r"content-length\s*:(.*)$", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]{1,9}")


def start_stdin_reader(stdin: BinaryIO, loop: asyncio.AbstractEventLoop) -> asyncio.StreamReader:
    """Feed stdin into a StreamReader from a daemon thread.

    A blocking read in a daemon thread costs no CPU while idle, works for pipes, ttys and files
    alike, and can never hold up interpreter exit the way an executor thread would.
    """
    reader = asyncio.StreamReader(limit=HEADER_LINE_LIMIT, loop=loop)
    fd = stdin.fileno()

    def pump() -> None:
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                chunk = b""
            try:
                if chunk:
                    loop.call_soon_threadsafe(reader.feed_data, chunk)
                else:
                    loop.call_soon_threadsafe(reader.feed_eof)
            except RuntimeError:  # the loop is already closed
                return
            if not chunk:
                return

    threading.Thread(target=pump, name="colablink-stdin", daemon=True).start()
    return reader


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """One message body, or ``None`` at end of input.

    A Content-Length that is not a length up to ``MAX_BODY`` (non-numeric, negative, thousands
    of digits) drops that message with a logged error, and reading resumes at the next header.
    """
    length: int | None = None
    resync = False
    while True:
        try:
            line = await reader.readline()
        except ValueError:
            log.warning("Dropped an over-long header line")
            length = None
            continue
        if not line:
            return None
        text = line.decode("latin-1").strip()
        if not text:
            if length is not None:
                break
            continue
        header = (_NEXT_HEADER.search if resync else _CONTENT_LENGTH.fullmatch)(text)
        if header is None:
            continue
        value = header.group(1).strip()
        if _DIGITS.fullmatch(value) and int(value) <= MAX_BODY:
            length, resync = int(value), False
        else:
            log.error(
                "Dropped a message whose Content-Length %r is not a length up to %d bytes",
                value[:40],
                MAX_BODY,
            )
            length, resync = None, True
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        return None


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int) and not isinstance(value, bool))


def _field_detail(exc: BaseException) -> str:
    """Name the offending field the way the client spelled it (camelCase)."""
    cause = exc.__cause__ or exc
    try:
        lines = (
            cattrs.transform_error(cause) if isinstance(cause, cattrs.BaseValidationError) else []
        )
    except Exception:  # transform_error is best effort on exotic failures
        lines = []
    if not lines:
        return str(cause) or type(cause).__name__
    return "; ".join(re.sub(r"_([a-z])", lambda m: m.group(1).upper(), line) for line in lines)


class MessageDispatcher:
    """Validates the envelope of each message and passes good ones to the pygls protocol."""

    def __init__(self, protocol: JsonRPCProtocol, is_shutting_down: Callable[[], bool]) -> None:
        self._protocol = protocol
        self._is_shutting_down = is_shutting_down

    def dispatch(self, body: bytes) -> None:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            self._reply_error(None, PARSE_ERROR, "Parse error: the message is not valid JSON.")
            return
        if not isinstance(data, dict):
            self._reply_error(None, INVALID_REQUEST, "Invalid request: expected a JSON object.")
            return
        has_id = "id" in data
        msg_id = data.get("id")
        method = data.get("method")
        if has_id and not _valid_id(msg_id):
            self._reply_error(
                None, INVALID_REQUEST, "Invalid request: id must be a string or integer."
            )
            return
        reply_id = msg_id if has_id else None
        is_response = has_id and "method" not in data and ("result" in data or "error" in data)
        if data.get("jsonrpc") != "2.0":
            if not is_response:
                self._reply_error(
                    reply_id, INVALID_REQUEST, 'Invalid request: jsonrpc must be "2.0".'
                )
            return
        if not is_response and not isinstance(method, str):
            self._reply_error(
                reply_id, INVALID_REQUEST, "Invalid request: method must be a string."
            )
            return
        is_request = has_id and not is_response
        if is_request and method != EXIT and self._is_shutting_down():
            self._reply_error(msg_id, INVALID_REQUEST, "The helper is shutting down.")
            return
        try:
            message = self._protocol.structure_message(data)
        except JsonRpcException as exc:
            if is_request:
                detail = f"Invalid params for {method}: {_field_detail(exc)}"
                self._reply_error(msg_id, INVALID_PARAMS, detail)
            else:
                log.warning("Ignored a malformed message (%s): %s", method, _field_detail(exc))
            return
        try:
            self._protocol.handle_message(message)
        except Exception:
            log.exception("Failed to handle %s", method)
            if is_request:
                detail = f"Internal error while handling {method}."
                self._reply_error(msg_id, INTERNAL_ERROR, detail)

    def _reply_error(self, msg_id: str | int | None, code: int, message: str) -> None:
        log.debug("Replying %d to id %r: %s", code, msg_id, message)
        # A plain dict keeps "id": null, which lsprotocol's response type would drop.
        payload = {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}
        with contextlib.suppress(BrokenPipeError):
            self._protocol._send_data(payload)


async def serve(
    protocol: JsonRPCProtocol,
    stdin: BinaryIO,
    stdout: BinaryIO,
    is_shutting_down: Callable[[], bool],
) -> None:
    """Serve until the client closes stdin."""
    from pygls.io_ import StdoutWriter

    protocol.set_writer(StdoutWriter(stdout))
    reader = start_stdin_reader(stdin, asyncio.get_running_loop())
    dispatcher = MessageDispatcher(protocol, is_shutting_down)
    while (body := await read_frame(reader)) is not None:
        dispatcher.dispatch(body)
