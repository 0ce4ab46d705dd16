"""Downloads started by ``colablink/download``: cancellable, and tracked until their thread ends.

A cancelled or abandoned download must not keep writing here after its answer: closing down
cancels every one and waits (within its budget) for their temps to be removed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from colablink.helper.blocking import run_cancellable

T = TypeVar("T")

# How long a cancelled transfer may take to remove its temps before the cancel is answered.
CANCEL_GRACE_S = 1.5


class _Transfer:
    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.done = threading.Event()


class Transfers:
    def __init__(self) -> None:
        self._under_way: set[_Transfer] = set()
        self._lock = threading.Lock()

    async def run(self, work: Callable[[threading.Event], T]) -> T:
        """``work(cancel)`` in a thread; cancelling the await cancels the transfer itself."""
        transfer = _Transfer()
        with self._lock:
            self._under_way.add(transfer)

        def tracked(cancel: threading.Event) -> T:
            try:
                return work(cancel)
            finally:
                with self._lock:
                    self._under_way.discard(transfer)
                transfer.done.set()

        return await run_cancellable(
            tracked, grace=CANCEL_GRACE_S, cancel=transfer.cancel, name="colablink-transfer"
        )

    def cancel_all(self) -> list[threading.Event]:
        """Cancel every transfer; return events that are set once each has ended."""
        with self._lock:
            under_way = list(self._under_way)
        for transfer in under_way:
            transfer.cancel.set()
        return [transfer.done for transfer in under_way]
