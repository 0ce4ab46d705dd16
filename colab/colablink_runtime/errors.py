"""Errors the runtime side raises for problems a user can fix, each with one sentence."""

from __future__ import annotations


class RuntimeSetupError(Exception):
    """Setting up or running the runtime failed; ``message`` says what to do, in one sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PortInUse(RuntimeSetupError):
    """Another process already listens on the requested port."""
