"""Checks on every path that comes back from the runtime: the remote is not trusted.

A remote path must be relative, free of ``..``, ``.`` and empty parts, and free of NUL. A local
destination must stay inside the local connection directory without passing through a symlink.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

# An empty, "." or ".." component: one search instead of a split (this runs per listed entry).
_BAD_PART = re.compile(r"(?:^|/)\.{0,2}(?:/|\Z)")


class UnsafePath(ValueError):
    """A remote path that would leave (or could trick us out of) the connection directory."""


def check_remote_relpath(rel: object) -> str:
    if not isinstance(rel, str) or not rel:
        raise UnsafePath(f"not a path: {rel!r}")
    if "\x00" in rel:
        raise UnsafePath(f"path contains NUL: {rel!r}")
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":") or "\\" in rel:
        raise UnsafePath(f"absolute or foreign path: {rel!r}")
    if _BAD_PART.search(rel):
        raise UnsafePath(f"path escapes with '..' or empty parts: {rel!r}")
    return rel


def local_destination(root: Path, rel: str, *, create_parents: bool) -> Path:
    """Where ``rel`` lands under ``root``; refuses symlinked or non-directory parents.

    ``root`` must already be resolved. Parents are created one by one, so no component that
    appears meanwhile as a symlink is followed.
    """
    check_remote_relpath(rel)
    parts = rel.split("/")
    current = root
    for part in parts[:-1]:
        current = current / part
        try:
            st = current.lstat()
        except FileNotFoundError:
            if not create_parents:
                return root.joinpath(*parts)
            current.mkdir(mode=0o755)
            st = current.lstat()
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafePath(f"parent of {rel!r} is not a plain directory locally")
    final = current / parts[-1]
    real_parent = Path(os.path.realpath(final.parent))
    if real_parent != root and root not in real_parent.parents:
        raise UnsafePath(f"{rel!r} would land outside {root}")
    if final.is_symlink():
        raise UnsafePath(f"{rel!r} is a symlink locally")
    return final


def created_mode(remote_mode: int) -> int:
    """The mode a file from the runtime is created with (``os.open`` applies the local umask):
    of the runtime's mode only the executable bit travels, never setuid or world-writable."""
    return 0o777 if remote_mode & 0o111 else 0o666
