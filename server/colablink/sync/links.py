"""Symlinks inside the project travel as symlinks; ones that leave it are reported, not sent.

A link is "inside" when its target, taken relative to the link's directory, stays under the
project root without following any other link: the runtime gets the same relative link, so
it points at the same synced path there. Absolute targets name this machine's paths and are
never sent.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

OUTSIDE = "is a symlink pointing outside the project; it is not synced"


def inside_target(root: Path, rel: str) -> str | None:
    """The link's target when it stays inside the project, else None."""
    try:
        target = str((root / rel).readlink())
    except OSError:
        return None
    if not target or posixpath.isabs(target):
        return None
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
    if resolved == ".." or resolved.startswith("../"):
        return None
    return target
