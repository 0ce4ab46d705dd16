"""Ctrl+C, SIGTERM and SIGHUP (a closed terminal) stop a transfer the same way, and say so.

Without a handler, TERM and HUP kill the CLI where it stands: a download's local temp stays
behind, and nothing tells the runtime. Here all three become one stop. While a transfer is under
way (``cancellable``) the first one only sets its cancel, so the transfer ends by its own rule:
the temps on both sides removed, or, when the upload had already been committed, the landing
reported. Before that, or at a second signal, they raise ``KeyboardInterrupt`` as Ctrl+C does.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from colablink.errors import Cancelled

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stop:
    """The signal that stopped the command (if any), and the cancel it sets."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.signum = 0
        self._cancellable = False

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        first = not self.signum
        self.signum = self.signum or signum
        if self._cancellable and first:
            self.cancel.set()
            return
        raise KeyboardInterrupt

    @contextmanager
    def cancellable(self) -> Iterator[threading.Event]:
        """Within, and after it ends well: a signal sets the returned cancel instead of
        interrupting (once the transfer is done, closing the connection must not turn it into
        a reported cancel)."""
        if self.signum:
            raise KeyboardInterrupt
        self._cancellable = True
        try:
            yield self.cancel
        except BaseException:
            self._cancellable = False
            raise

    def cancelled(self, message: str) -> Cancelled:
        """The error to leave with: exit 128 + the signal's number, as a shell reports it."""
        error = Cancelled(message)
        error.exit_code = 128 + (self.signum or signal.SIGINT)
        return error


@contextmanager
def stop_on_signals() -> Iterator[Stop]:
    """A ``Stop`` fed by SIGINT, SIGTERM and SIGHUP until the block ends."""
    stop = Stop()
    previous = {signum: signal.signal(signum, stop._on_signal) for signum in SIGNALS}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
