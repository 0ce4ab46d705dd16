"""Where a sync runs: the two roots, the two connection (output) directories, the rules."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from colablink_runtime.supervisor import STATE_FOLDER

if TYPE_CHECKING:
    from colablink.local.profiles import Profile


@dataclass(frozen=True)
class SyncSpec:
    local_root: Path
    remote_root: str
    local_conn_dir: Path
    remote_conn_dir: str
    excludes: tuple[str, ...] = ()
    # Other profiles' local connection dirs, relative to local_root: never pushed either.
    other_conn_dirs: tuple[str, ...] = ()
    state_path: Path | None = None

    @property
    def key(self) -> str:
        """Which pair of trees this is; records kept for another pair do not apply."""
        return "\n".join(
            (str(self.local_root), self.remote_root, str(self.local_conn_dir), self.remote_conn_dir)
        )

    @property
    def local_conn_rel(self) -> str | None:
        try:
            rel = self.local_conn_dir.resolve().relative_to(self.local_root.resolve())
        except ValueError:
            return None
        return rel.as_posix() if rel.parts else None

    @property
    def remote_conn_rel(self) -> str | None:
        root = posixpath.normpath(self.remote_root)
        conn = posixpath.normpath(self.remote_conn_dir)
        if conn == root or not conn.startswith(root.rstrip("/") + "/"):
            return None
        return posixpath.relpath(conn, root)

    def ignored_dirs(self) -> tuple[str, ...]:
        """Project-relative directories push never reads from nor writes to: the connection
        dirs, and the runtime's own state in the remote root (its runs)."""
        dirs = [*self.other_conn_dirs, STATE_FOLDER]
        for rel in (self.local_conn_rel, self.remote_conn_rel):
            if rel:
                dirs.append(rel)
        return tuple(dict.fromkeys(dirs))

    @classmethod
    def from_profile(
        cls, profile: Profile, *, excludes: tuple[str, ...] = (), state_path: Path | None = None
    ) -> SyncSpec:
        """The trees a profile names; ``spec_for`` adds what only a stored profile knows."""
        local_root = Path(profile.project_root).resolve()
        return cls(
            local_root=local_root,
            remote_root=str(profile.remote_root),
            local_conn_dir=Path(profile.local_conn_dir).resolve(),
            remote_conn_dir=str(profile.remote_conn_dir),
            excludes=excludes,
            state_path=state_path,
        )


def spec_for(profile: Profile, *, excludes: tuple[str, ...] = ()) -> SyncSpec:
    """The spec for a stored profile: its records file, and every other profile's output dir
    in the same project left out of push."""
    from colablink.local.paths import config_dir
    from colablink.local.profiles import ProfileStore

    spec = SyncSpec.from_profile(
        profile,
        excludes=excludes,
        state_path=config_dir() / "sync" / f"{profile.name}.json",
    )
    store = ProfileStore()
    others: list[str] = []
    for name in store.names():
        if name == profile.name:
            continue
        try:
            other = store.load(name)
            rel = Path(other.local_conn_dir).resolve().relative_to(spec.local_root)
        except (ValueError, OSError):
            continue
        if rel.parts:
            others.append(rel.as_posix())
    return replace(spec, other_conn_dirs=tuple(others))
