"""A cancel answers as the work ended: cancelled if it stopped, its result if it had finished."""

from __future__ import annotations

import asyncio
import threading

import pytest
from colablink.errors import Cancelled
from colablink.helper.blocking import run_cancellable


async def cancelled_after(work: asyncio.Task[str], ran: threading.Event) -> str:
    await asyncio.to_thread(ran.wait, 5)
    work.cancel()
    return await work


async def test_work_that_stops_at_the_cancel_answers_cancelled() -> None:
    ran = threading.Event()

    def stops(cancel: threading.Event) -> str:
        ran.set()
        cancel.wait(5)
        raise Cancelled("The transfer was cancelled.")

    work = asyncio.ensure_future(run_cancellable(stops, grace=1.0))
    with pytest.raises(asyncio.CancelledError):
        await cancelled_after(work, ran)


async def test_work_that_had_finished_answers_with_its_result() -> None:
    ran = threading.Event()

    def lands(cancel: threading.Event) -> str:
        ran.set()
        cancel.wait(5)
        return "landed"  # past the point where a cancel could undo it

    work = asyncio.ensure_future(run_cancellable(lands, grace=1.0))
    assert await cancelled_after(work, ran) == "landed"
