"""Notices profiles made outside the window (``colablink init`` in a terminal).

Lenses appear once the workspace has a profile, and the editor lists the profiles the helper
reports; without this, a profile made in a terminal would show neither until the next Connect.
Polling the profiles directory every few seconds costs one stat per profile file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

POLL_S = 2.0


def signature(directory: Path) -> tuple[tuple[str, int], ...]:
    """What changes when a profile file is created, rewritten or removed."""
    try:
        return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in directory.glob("*.json")))
    except OSError:
        return ()


async def watch_profiles(
    directory: Path, changed: Callable[[], None], interval: float = POLL_S
) -> None:
    """Call ``changed`` after each poll that finds the profiles directory different."""
    seen = signature(directory)
    while True:
        await asyncio.sleep(interval)
        now = signature(directory)
        if now != seen:
            seen = now
            changed()
