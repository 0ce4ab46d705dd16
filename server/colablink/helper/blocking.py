"""Runs blocking (paramiko, disk) work in a daemon thread and awaits it from the event loop.

Not the loop's default executor: ``asyncio.run`` joins that on exit, so a thread stuck on a dead
network would keep the helper alive after its client is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def _settle(future: asyncio.Future[T], result: T | None, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]


async def run_blocking(work: Callable[[], T], *, name: str = "colablink-work") -> T:
    """Run ``work()`` off the loop; cancelling the await abandons (does not stop) the thread."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def target() -> None:
        result: T | None = None
        error: BaseException | None = None
        try:
            result = work()
        except BaseException as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone; nobody is waiting
            loop.call_soon_threadsafe(_settle, future, result, error)

    threading.Thread(target=target, name=name, daemon=True).start()
    return await future


async def run_cancellable(
    work: Callable[[threading.Event], T],
    *,
    grace: float,
    cancel: threading.Event | None = None,
    name: str = "colablink-work",
) -> T:
    """Run ``work(cancel)`` off the loop; cancelling the await sets ``cancel`` and then waits up
    to ``grace`` seconds for the work to wind down (a transfer removing its temps) before the
    cancellation goes on. Work that finished anyway (the cancel came too late: the download had
    landed) answers with its result, which is the truth. ``cancel`` may also be set from
    elsewhere (closing down)."""
    cancel = threading.Event() if cancel is None else cancel
    task = asyncio.ensure_future(run_blocking(lambda: work(cancel), name=name))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        cancel.set()
        await asyncio.wait({task}, timeout=grace)
        if task.done() and not task.cancelled() and task.exception() is None:
            return task.result()
        raise  # the work's own error, if any, was retrieved above: the cancel is the answer
