"""What the notebook features need of a profile's holder, whoever holds it.

``Connection`` (a direct session), ``DaemonRuntime`` (the profile's ``colablink watch`` daemon) and
the editor helper's ``LiveProfile`` all offer these methods; ``holder_for`` picks the daemon when
one is up (on Colab's channel, which takes one connection at a time, a second would be refused),
else a connection of our own, as the run verbs do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from colablink.daemon.link import DaemonLink
from colablink.local.profiles import Profile, ProfileStore
from colablink.ssh.runs import RunInfo

OnOutput = Callable[[bytes], None]


class RuntimeLink(Protocol):
    """The verbs the notebook features are built from; all block, none keeps state here."""

    @property
    def profile(self) -> Profile: ...

    def exec(
        self,
        command: list[str] | str,
        *,
        on_stdout: OnOutput,
        on_stderr: OnOutput,
        cancel: threading.Event,
    ) -> int: ...

    def start_detached(self, command: list[str] | str) -> str: ...

    def kill(self, run_id: str, signal_name: str = "TERM") -> bool: ...

    def runs(self) -> list[RunInfo]: ...

    def forward(self, remote_port: int, local_port: int, remote_host: str) -> int: ...

    def unforward(self, local_port: int) -> bool: ...


class DaemonRuntime:
    """A profile's daemon as a ``RuntimeLink``: one socket connection per call."""

    def __init__(self, link: DaemonLink, profile: Profile) -> None:
        self._link = link
        self._profile = profile

    @property
    def profile(self) -> Profile:
        return self._profile

    def exec(
        self,
        command: list[str] | str,
        *,
        on_stdout: OnOutput,
        on_stderr: OnOutput,
        cancel: threading.Event,
    ) -> int:
        return self._link.exec(command, on_stdout=on_stdout, on_stderr=on_stderr, cancel=cancel)

    def start_detached(self, command: list[str] | str) -> str:
        return str(self._link.call({"op": "start", "command": command})["id"])

    def kill(self, run_id: str, signal_name: str = "TERM") -> bool:
        answer = self._link.call({"op": "kill", "id": run_id, "signal": signal_name})
        return bool(answer.get("running"))

    def runs(self) -> list[RunInfo]:
        return self._link.runs()

    def forward(self, remote_port: int, local_port: int, remote_host: str) -> int:
        request = {
            "op": "forward",
            "remote_port": remote_port,
            "local_port": local_port,
            "remote_host": remote_host,
        }
        return int(self._link.call(request)["local_port"])

    def unforward(self, local_port: int) -> bool:
        return bool(self._link.call({"op": "unforward", "local_port": local_port})["stopped"])

    def flush(self, paths: list[str], timeout: float = 120.0) -> None:
        """Wait until the daemon's sync pushed ``paths`` (``UsageError`` when it does not sync)."""
        self._link.call({"op": "flush", "paths": paths, "timeout": timeout})

    def upload(self, local: Path, remote: str) -> None:
        self._link.transfer(
            {"op": "upload", "local": str(local), "remote": remote}, threading.Event()
        )


@contextmanager
def holder_for(name: str) -> Iterator[RuntimeLink]:
    """The profile's daemon when one answers, else a ``Connection`` closed on leaving (with the
    forwards it opened)."""
    profile = ProfileStore().load(name)
    daemon = DaemonLink.find(name)
    if daemon is not None:
        yield DaemonRuntime(daemon, profile)
        return
    from colablink.connection import Connection

    with Connection(profile) as connection:
        yield connection
