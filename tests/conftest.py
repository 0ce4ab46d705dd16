"""Fixtures every test can use: real runtimes (root mode and user mode) and the leak check.

Helpers live in ``tests/support`` and are imported as ``support`` (this directory is on
sys.path because pytest loads this conftest from it).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.leaks import clean_up, leaked_processes
from support.runtimes import RuntimeHandle, start_root_runtime, start_user_runtime
from support.system import SESSION_MARKER

# Inherited by every process a test starts, so leaks can be told apart from other runs' processes.
SESSION_ID = secrets.token_hex(8)
os.environ[SESSION_MARKER] = SESSION_ID


@pytest.fixture(scope="session", autouse=True)
def no_leaked_processes() -> Iterator[None]:
    yield
    # A process killed a moment ago may still be exiting: give it a short grace period.
    deadline = time.monotonic() + 3
    leaked = leaked_processes(SESSION_ID)
    while leaked and time.monotonic() < deadline:
        time.sleep(0.1)
        leaked = leaked_processes(SESSION_ID)
    clean_up(list(leaked))
    if leaked:
        listing = "; ".join(f"{pid}: {cmd}" for pid, cmd in sorted(leaked.items()))
        pytest.fail(f"processes started by tests were still running at the end: {listing}")


@pytest.fixture
def runtime() -> Iterator[RuntimeHandle]:
    """A root-mode runtime (dedicated unique user, fresh remote_root, tunnel none, free port)."""
    with start_root_runtime() as handle:
        yield handle


@pytest.fixture
def user_runtime() -> Iterator[RuntimeHandle]:
    """A user-mode runtime run as a throwaway unprivileged account; ``client_key`` logs in."""
    with start_user_runtime() as handle:
        yield handle


@pytest.fixture
def runtime_factory() -> Iterator[Callable[..., RuntimeHandle]]:
    """``runtime_factory(user_mode=False, env=None, **ColabRuntime kwargs)``; torn down after."""
    handles: list[RuntimeHandle] = []

    def make(*, user_mode: bool = False, **kwargs: Any) -> RuntimeHandle:
        handle = start_user_runtime(**kwargs) if user_mode else start_root_runtime(**kwargs)
        handles.append(handle)
        return handle

    try:
        yield make
    finally:
        for handle in reversed(handles):
            handle.close()
