"""``LocalClient``: the Python API, over the same ``Connection`` the CLI uses.

from colablink import LocalClient

with LocalClient(profile="exp1") as client:
    client.initialize(connection_info, remote_dir="outputs", local_dir="results")
    result = client.execute(["python", "train.py"])
    client.download("outputs/model.pt", "./models/")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from colablink.connection import Connection, ExecResult, OnOutput, Status
from colablink.local.profiles import Profile, ProfileStore

if TYPE_CHECKING:
    from colablink.ssh.runs import RunInfo


class RunHandle:
    """A run started with ``execute(..., detach=True)``: it goes on whatever the link does."""

    def __init__(self, connection: Connection, run_id: str) -> None:
        self._connection = connection
        self.id = run_id

    def wait(self) -> ExecResult:
        """Follow it to its end (re-attaching across drops): its exit code and whole output."""
        out: list[bytes] = []
        err: list[bytes] = []
        code = self._connection.attach(self.id, on_stdout=out.append, on_stderr=err.append)
        assert code is not None
        return ExecResult(code, b"".join(out), b"".join(err))

    def logs(self) -> bytes:
        """Its output so far, stdout and stderr as they came."""
        chunks: list[bytes] = []
        self._connection.attach(
            self.id, on_stdout=chunks.append, on_stderr=chunks.append, until_now=True
        )
        return b"".join(chunks)

    def kill(self, signal_name: str = "TERM") -> bool:
        """Signal its process group; whether it was still running."""
        return self._connection.kill(self.id, signal_name)


class LocalClient:
    """One profile's connection, opened on first use and kept until ``close()``."""

    def __init__(self, profile: str | None = None) -> None:
        self.profile_name = profile
        self._profile: Profile | None = None
        self._connection: Connection | None = None

    # -- set-up ------------------------------------------------------------------------------

    def initialize(
        self,
        connection_info: str | Mapping[str, Any],
        remote_dir: str | None = None,
        local_dir: str | None = None,
        *,
        project_root: str | Path | None = None,
    ) -> Profile:
        """Enroll with a runtime (the same steps as ``colablink init``) and use that profile.

        ``connection_info`` is the JSON or ``clk1.`` token the runtime printed, or its dict.
        """
        from colablink.enroll import enrollment
        from colablink.enroll.connection_info import (
            connection_info_from_dict,
            parse_connection_info,
        )
        from colablink.local.profiles import DEFAULT_PROFILE

        info = (
            parse_connection_info(connection_info)
            if isinstance(connection_info, str)
            else connection_info_from_dict(dict(connection_info))
        )
        self.close()
        self._profile = enrollment.enroll(
            info,
            profile=self.profile_name or DEFAULT_PROFILE,
            remote_dir=remote_dir,
            local_dir=local_dir,
            project_root=Path(project_root) if project_root is not None else Path.cwd(),
        )
        self.profile_name = self._profile.name
        return self._profile

    @property
    def profile(self) -> Profile:
        if self._profile is None:
            self._profile = ProfileStore().resolve(self.profile_name)
        return self._profile

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = Connection(self.profile)
        return self._connection

    # -- verbs -------------------------------------------------------------------------------

    @overload
    def execute(
        self,
        command: Sequence[str] | str,
        *,
        stdin: bytes | None = None,
        on_stdout: OnOutput | None = None,
        on_stderr: OnOutput | None = None,
        detach: Literal[False] = False,
    ) -> ExecResult: ...

    @overload
    def execute(self, command: Sequence[str] | str, *, detach: Literal[True]) -> RunHandle: ...

    def execute(
        self,
        command: Sequence[str] | str,
        *,
        stdin: bytes | None = None,
        on_stdout: OnOutput | None = None,
        on_stderr: OnOutput | None = None,
        detach: bool = False,
    ) -> ExecResult | RunHandle:
        """Run ``command`` in the remote source root and return its exit code and output.

        The output is collected in the result; pass ``on_stdout``/``on_stderr`` to also see it
        as it arrives. A dropped link is re-dialed and the run followed on. ``detach=True``
        returns a ``RunHandle`` at once instead.
        """
        if detach:
            return RunHandle(self.connection, self.connection.start_detached(command))
        return self.connection.run(command, stdin=stdin, on_stdout=on_stdout, on_stderr=on_stderr)

    def runs(self) -> list[RunInfo]:
        """Every run the runtime keeps, oldest first."""
        return self.connection.runs()

    def upload(self, src: str | Path, destination: str | None = None) -> str:
        """Copy a local file or directory to the runtime; return the remote path."""
        return self.connection.upload(Path(src), destination)

    def download(self, src: str, dest: str | Path = ".") -> Path:
        """Copy a remote file or directory here; return the local path."""
        return self.connection.download(src, Path(dest))

    def status(self) -> Status:
        return self.connection.status()

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> LocalClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
