"""A key-authenticated session to the real runtime from the shared ``runtime`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from colablink.ssh.session import Session
from support.runtimes import RuntimeHandle

from .targets import key_target


@pytest.fixture
def session(runtime: RuntimeHandle) -> Iterator[Session]:
    s = Session.connect(key_target(runtime))
    try:
        yield s
    finally:
        s.close()
