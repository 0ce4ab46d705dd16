"""The local side's one set of rules for paths that come from the runtime: it is not trusted.

A remote path must be relative, free of ``..``, ``.`` and empty parts, and free of NUL. A local
destination must stay inside its directory without passing through a symlink. A link the runtime
sends may only point down, or up by no more than its own depth, so no chain of links can climb
out. Sync (pull and push) and downloads use these same checks.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

# C0 and C1 controls and DEL: a name or message from the runtime could retitle or repaint the
# terminal it is printed to.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class UnsafePath(ValueError):
    """A remote path that would leave (or could trick us out of) the connection directory."""


def check_remote_relpath(rel: object) -> str:
    if not isinstance(rel, str) or not rel:
        raise UnsafePath(f"not a path: {rel!r}")
    if "\x00" in rel:
        raise UnsafePath(f"path contains NUL: {rel!r}")
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":") or "\\" in rel:
        raise UnsafePath(f"absolute or foreign path: {rel!r}")
    if any(part in ("", ".", "..") for part in rel.split("/")):
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


def link_stays_inside(target: str, depth: int) -> bool:
    """Whether a link ``depth`` directories below a copy's root, pointing at ``target``, stays in.

    ``..`` may only lead the target, so it climbs real directories (never the far side of another
    link), and by no more than ``depth``; the rest only descends. Each link obeying this resolves
    inside the copy, so chains of them do too, whatever the lengths involved.
    """
    if not target or target.startswith("/") or "\x00" in target:
        return False
    parts = [part for part in target.split("/") if part not in ("", ".")]
    ups = 0
    while ups < len(parts) and parts[ups] == "..":
        ups += 1
    return ups <= depth and ".." not in parts[ups:]


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes, safe to print to a terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
