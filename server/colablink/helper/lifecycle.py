"""How the helper stops: politely on ``shutdown``, quickly when the client vanishes.

On ``shutdown`` pending pushes are flushed first, so the last save reaches the runtime. When
stdin closes the client is gone: remote commands are interrupted (closing a channel alone would
leave them running remotely), downloads cancelled (their temps removed), and everything is closed
within a fixed budget.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from colablink.helper.blocking import run_blocking
from colablink.helper.execs import ExecRunner
from colablink.helper.hub import Hub
from colablink.helper.live import LiveProfile
from colablink.helper.ptys import PtyRegistry
from colablink.helper.transfers import Transfers

log = logging.getLogger(__name__)

# Interrupting a remote command takes up to remote_exec's grace period; stay under the 2 s
# the client may wait for the helper to exit.
CANCEL_BUDGET_S = 1.4
CLOSE_BUDGET_S = 0.4
FLUSH_BUDGET_S = 10.0


class Lifecycle:
    def __init__(
        self, hub: Hub, execs: ExecRunner, transfers: Transfers, ptys: PtyRegistry
    ) -> None:
        self._hub = hub
        self._execs = execs
        self._transfers = transfers
        self._ptys = ptys
        self.shutting_down = False

    async def shutdown(self) -> None:
        """The ``shutdown`` request: flush pending pushes, then close every connection."""
        self.shutting_down = True
        held = list(self._hub.live.values())
        if held:
            flushes = asyncio.gather(*(run_blocking(live.flush_pending) for live in held))
            try:
                await asyncio.wait_for(flushes, FLUSH_BUDGET_S)
            except Exception as exc:  # a failed flush must not keep the editor from closing
                log.warning("Not every pending change reached the runtime: %s", exc)
        await self._close(deadline=time.monotonic() + CANCEL_BUDGET_S + CLOSE_BUDGET_S)

    async def client_gone(self) -> None:
        """stdin closed (the window went, or reloads): leave runs going and close, fast."""
        self.shutting_down = True
        await self._close(deadline=time.monotonic() + CANCEL_BUDGET_S + CLOSE_BUDGET_S)

    async def _close(self, deadline: float) -> None:
        pending = self._execs.leave_all() + self._transfers.cancel_all()
        self._ptys.close_all()
        await _wait_events(pending, deadline - CLOSE_BUDGET_S)
        held = self._hub.close_all()
        closers = [_closer(live) for live in held]
        await _wait_events(closers, deadline)

    def close_now(self) -> None:
        """The ``exit`` notification: nothing may block any more."""
        self.shutting_down = True
        # One budget for all commands and one for all profiles, as in ``_close``: waiting a
        # full budget for each would let several running commands outlast the client's patience.
        deadline = time.monotonic() + CANCEL_BUDGET_S
        for done in self._execs.leave_all() + self._transfers.cancel_all():
            done.wait(max(0.0, deadline - time.monotonic()))
        self._ptys.close_all()
        deadline = time.monotonic() + CLOSE_BUDGET_S
        for closed in [_closer(live) for live in self._hub.close_all()]:
            closed.wait(max(0.0, deadline - time.monotonic()))


def _closer(live: LiveProfile) -> threading.Event:
    done = threading.Event()

    def close() -> None:
        try:
            live.close()
        except Exception:
            log.exception("Closing %s failed", live.name)
        finally:
            done.set()

    threading.Thread(target=close, name=f"colablink-close-{live.name}", daemon=True).start()
    return done


async def _wait_events(events: list[threading.Event], deadline: float) -> None:
    # Shutdown only: a short poll is simpler than bridging each thread event to the loop.
    while not all(event.is_set() for event in events) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
