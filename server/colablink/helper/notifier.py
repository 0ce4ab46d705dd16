"""Sends notifications to the client from any thread, in the order they were posted.

Only the event loop thread writes to stdout; ``call_soon_threadsafe`` keeps FIFO order, which
is what keeps each exec stream's output in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from lsprotocol.types import PROGRESS, ProgressParams
from pygls.protocol import JsonRPCProtocol

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, protocol: JsonRPCProtocol, loop: asyncio.AbstractEventLoop) -> None:
        self._protocol = protocol
        self._loop = loop

    def send(self, method: str, params: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: the client is gone
            self._loop.call_soon_threadsafe(self._send, method, params)

    def progress(self, token: str | int, value: Any) -> None:
        """A ``$/progress`` notification (``value`` is a WorkDoneProgress begin/report/end)."""
        self.send(PROGRESS, ProgressParams(token=token, value=value))

    def _send(self, method: str, params: Any) -> None:
        try:
            self._protocol.notify(method, params)
        except BrokenPipeError:
            log.debug("Dropped %s: the client is gone", method)
