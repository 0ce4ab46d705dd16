"""The pygls server class: stdio through ``transport``, and errors that never pop up a box."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import BinaryIO

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcMethodNotFound, PyglsError
from pygls.lsp.server import LanguageServer

from colablink import __version__
from colablink.helper import transport
from colablink.helper.converter import raw_params_converter

log = logging.getLogger(__name__)


class HelperServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "colablink-helper",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Full,
            converter_factory=raw_params_converter,
        )

    def report_server_error(
        self, error: Exception, source: type[PyglsError] | type[JsonRpcException]
    ) -> None:
        # The stock server shows "Error in server: …" in a message box. Every request already
        # got its error reply, so the log is the right place for the rest.
        if isinstance(error, JsonRpcMethodNotFound):
            log.debug("%s", error)
        else:
            log.warning("%s: %s", source.__name__, error)

    async def serve_stdio(
        self, stdin: BinaryIO, stdout: BinaryIO, is_shutting_down: Callable[[], bool]
    ) -> None:
        await transport.serve(self.protocol, stdin, stdout, is_shutting_down)
