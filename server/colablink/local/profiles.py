"""Connection profiles: one JSON file per profile under the config dir (dir 0700, files 0600).

A profile names everything needed to reach a runtime by key: address, user, pinned host keys,
the per-profile key, how the connection is dialled (direct TCP, or a ProxyCommand's argv), and the
directories on both sides. It never holds a password.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colablink.errors import ColabLinkError, UnknownProfile, UsageError
from colablink.local import paths
from colablink.local.localfiles import remove_if_present, write_atomic

PROFILE_FORMAT = 1
DEFAULT_PROFILE = "default"
# fullmatch: "$" would let a trailing newline into file names and Host aliases.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_profile_name(name: str) -> str:
    """Profile names become file names and ssh Host aliases, so keep them to a safe alphabet."""
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"Profile name {name[:70]!r} is not allowed; use letters, digits, '.', '_' or '-' "
            "(up to 64, starting with a letter or digit)."
        )
    return name


@dataclass
class Profile:
    name: str
    host: str
    port: int
    username: str
    remote_root: str
    remote_dir: str
    local_dir: str
    project_root: Path
    key_path: Path
    host_keys: list[str] = field(default_factory=list)
    # The ssh config this profile's Host block was written to, so forget removes it from there.
    ssh_config: Path | None = None
    # None: direct TCP to host:port. Otherwise the argv of a program speaking SSH on stdio.
    proxy_command: tuple[str, ...] | None = None

    @property
    def remote_conn_dir(self) -> str:
        """Absolute posix path of this connection's directory on the runtime."""
        return posixpath.join(self.remote_root, self.remote_dir)

    @property
    def local_conn_dir(self) -> Path:
        """Absolute local directory where this connection's outputs land."""
        return self.project_root / self.local_dir

    @property
    def ssh_alias(self) -> str:
        return f"colablink-{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PROFILE_FORMAT,
            "name": self.name,
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "remote_root": self.remote_root,
            "remote_dir": self.remote_dir,
            "local_dir": self.local_dir,
            "project_root": str(self.project_root),
            "key_path": str(self.key_path),
            "host_keys": list(self.host_keys),
            "ssh_config": None if self.ssh_config is None else str(self.ssh_config),
            "transport": _transport_dict(self.proxy_command),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        ssh_config = data.get("ssh_config")
        return cls(
            name=str(data["name"]),
            host=str(data["host"]),
            port=int(data["port"]),
            username=str(data["username"]),
            remote_root=str(data["remote_root"]),
            remote_dir=str(data["remote_dir"]),
            local_dir=str(data["local_dir"]),
            project_root=Path(data["project_root"]),
            key_path=Path(data["key_path"]),
            host_keys=[str(key) for key in data["host_keys"]],
            ssh_config=None if ssh_config is None else Path(ssh_config),
            proxy_command=_proxy_command_of(data.get("transport")),
        )


def _transport_dict(proxy_command: tuple[str, ...] | None) -> dict[str, Any]:
    if proxy_command is None:
        return {"kind": "direct"}
    return {"kind": "proxy_command", "argv": list(proxy_command)}


def _proxy_command_of(data: Any) -> tuple[str, ...] | None:
    """Profiles written before transports existed have none: they dial directly."""
    if data is None or data == {"kind": "direct"}:
        return None
    if data.get("kind") != "proxy_command":
        raise ValueError(f"unknown transport {data.get('kind')!r}")
    argv = tuple(str(arg) for arg in data["argv"])
    if not argv:
        raise ValueError("empty ProxyCommand")
    return argv


class ProfileStore:
    """Profiles on disk; the directory defaults to ``paths.profiles_dir()``."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else paths.profiles_dir()

    def path_of(self, name: str) -> Path:
        return self.directory / f"{check_profile_name(name)}.json"

    def exists(self, name: str) -> bool:
        return self.path_of(name).is_file()

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(
            entry.stem
            for entry in self.directory.glob("*.json")
            if entry.is_file() and _NAME.fullmatch(entry.stem)
        )

    def load(self, name: str) -> Profile:
        path = self.path_of(name)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise self._unknown(name) from None
        try:
            return Profile.from_dict(json.loads(text))
        except (ValueError, KeyError, TypeError):
            raise ColabLinkError(
                f"Profile {name!r} is damaged ({path}); "
                f"run `colablink --profile {name} init` again."
            ) from None

    def save(self, profile: Profile) -> None:
        paths.ensure_private_dir(paths.config_dir())
        paths.ensure_private_dir(self.directory)
        text = json.dumps(profile.to_dict(), indent=2, sort_keys=True) + "\n"
        write_atomic(self.path_of(profile.name), text.encode("utf-8"), mode=0o600)

    def delete(self, name: str) -> None:
        remove_if_present(self.path_of(name))

    def resolve(self, name: str | None) -> Profile:
        """The named profile, or the only one when no name is given."""
        if name is not None:
            return self.load(name)
        names = self.names()
        if not names:
            raise UsageError(
                "There is no ColabLink profile yet; run `colablink init` with the connection "
                "info your runtime printed."
            )
        if len(names) > 1:
            raise UsageError(
                f"There are several profiles ({', '.join(names)}); choose one with --profile NAME."
            )
        return self.load(names[0])

    def _unknown(self, name: str) -> UnknownProfile:
        known = self.names()
        hint = f"known profiles: {', '.join(known)}" if known else "run `colablink init` first"
        return UnknownProfile(f"There is no profile named {name!r}; {hint}.")
