"""The errors a user can cause or meet, each carrying one sentence and a stable code.

The CLI prints the sentence and exits non-zero; the helper turns the code into a JSON-RPC error.
Anything that is not a ``ColabLinkError`` is a bug and keeps its traceback.
"""

from __future__ import annotations


class ColabLinkError(Exception):
    """A failure with a one-sentence message meant for the user."""

    code = -32000
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadConnectionInfo(ColabLinkError):
    code = -32001
    exit_code = 2


class AuthFailed(ColabLinkError):
    code = -32002


class HostKeyMismatch(ColabLinkError):
    code = -32003


class Unreachable(ColabLinkError):
    code = -32004


class UnknownProfile(ColabLinkError):
    code = -32005
    exit_code = 2


class UsageError(ColabLinkError):
    code = -32006
    exit_code = 2


class RemoteError(ColabLinkError):
    """The runtime answered, but refused or failed what we asked of it."""

    code = -32007


class SyncHalted(ColabLinkError):
    """The sync engine stopped itself rather than risk losing data."""

    code = -32008


class Cancelled(ColabLinkError):
    """The user stopped the work (Ctrl+C, a cancelled request); nothing of it was kept."""

    code = -32800  # JSON-RPC's RequestCancelled
    exit_code = 130
