"""SSH targets for the runtime from the shared ``runtime`` fixture."""

from __future__ import annotations

import threading
from pathlib import Path

from colablink.ssh.session import SshTarget
from support.runtimes import RuntimeHandle


def key_target(rt: RuntimeHandle, **overrides: object) -> SshTarget:
    fields: dict[str, object] = {
        "host": rt.host,
        "port": rt.port,
        "username": rt.username,
        "host_keys": tuple(rt.host_keys),
        "key_path": Path(rt.client_key),
    }
    fields.update(overrides)
    return SshTarget(**fields)  # type: ignore[arg-type]


def cancel_after(delay: float) -> threading.Event:
    """An event set after ``delay`` s by a daemon timer (a test that fails leaves no thread)."""
    event = threading.Event()
    timer = threading.Timer(delay, event.set)
    timer.daemon = True
    timer.start()
    return event
