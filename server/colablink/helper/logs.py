"""Logging to stderr and, once a client is attached, to its ``window/logMessage``.

pygls logs every message it sends at INFO (the whole body); that is silenced. Records from
worker threads are handed to the event loop, the only thread that writes to stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from colablink.helper.protocol import LogLevel

LEVELS: dict[LogLevel, int] = {
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}
_MESSAGE_TYPES = (
    (logging.ERROR, types.MessageType.Error),
    (logging.WARNING, types.MessageType.Warning),
    (logging.INFO, types.MessageType.Info),
)

root = logging.getLogger("colablink")
WIRE_LOGGER = "colablink.helper.rpc_server"


class ClientLogHandler(logging.Handler):
    def __init__(self, server: LanguageServer, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._server = server
        self._loop = loop

    def emit(self, record: logging.LogRecord) -> None:
        # Failures to write to the client are logged by the server class; sending those to
        # the client would fail again and loop.
        if record.name == WIRE_LOGGER:
            return
        kind = next(
            (t for level, t in _MESSAGE_TYPES if record.levelno >= level), types.MessageType.Log
        )
        params = types.LogMessageParams(type=kind, message=self.format(record))
        with contextlib.suppress(RuntimeError):  # loop closed: stderr already has it
            self._loop.call_soon_threadsafe(self._send, params)

    def _send(self, params: types.LogMessageParams) -> None:
        # Never let logging break the helper; a dead client shows up in the transport anyway.
        with contextlib.suppress(Exception):
            self._server.window_log_message(params)


def configure_stderr(level: LogLevel) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(LEVELS[level])
    root.propagate = False
    # pygls logs each sent body at INFO and each handler failure with a traceback; the helper
    # logs failures itself, once, with the sentence the user sees.
    logging.getLogger("pygls").setLevel(logging.CRITICAL)


def attach_client(server: LanguageServer, loop: asyncio.AbstractEventLoop) -> ClientLogHandler:
    handler = ClientLogHandler(server, loop)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    return handler


def set_level(level: LogLevel) -> None:
    root.setLevel(LEVELS[level])
