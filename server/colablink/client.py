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
from typing import Any

from colablink.connection import Connection, ExecResult, OnOutput, Status
from colablink.local.profiles import Profile, ProfileStore


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
            self._connection = Connection(self.profile, long_lived=True)
        return self._connection

    # -- verbs -------------------------------------------------------------------------------

    def execute(
        self,
        command: Sequence[str] | str,
        *,
        stdin: bytes | None = None,
        on_stdout: OnOutput | None = None,
        on_stderr: OnOutput | None = None,
    ) -> ExecResult:
        """Run ``command`` in the remote source root and return its exit code and output.

        The output is collected in the result; pass ``on_stdout``/``on_stderr`` to also see it
        as it arrives.
        """
        return self.connection.run(command, stdin=stdin, on_stdout=on_stdout, on_stderr=on_stderr)

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
