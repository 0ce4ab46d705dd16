"""Listing a local tree the way the agent lists a remote one: lstat, no symlinks followed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from colablink_runtime.sync_agent import entry_of

from colablink.sync.ignore import IgnoreRules
from colablink.sync.wire import TEMP_PREFIX


class Meta(NamedTuple):
    kind: str  # "f" file, "d" directory, "l" symlink
    size: int
    mtime_ns: int
    mode: int

    @classmethod
    def from_stat(cls, st: os.stat_result) -> Meta | None:
        """The same reading of a stat as the remote agent's listing, so both sides compare."""
        entry = entry_of("", st)
        if entry is None:
            return None
        _, kind, size, mtime_ns, mode = entry
        return cls(kind, size, mtime_ns, mode)

    @classmethod
    def from_wire(cls, entry: list[object]) -> tuple[object, Meta]:
        """``[path, kind, size, mtime_ns, mode, ...]`` from the agent; the path stays unchecked."""
        kind, size, mtime_ns, mode = entry[1:5]
        if kind not in ("f", "d", "l") or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in (size, mtime_ns, mode)
        ):
            raise ValueError(f"malformed entry {entry!r}")
        assert isinstance(kind, str) and isinstance(size, int)
        assert isinstance(mtime_ns, int) and isinstance(mode, int)
        return entry[0], cls(kind, size, mtime_ns, mode)

    def same_content_hint(self, other: Meta) -> bool:
        return (
            self.kind == other.kind and self.size == other.size and self.mtime_ns == other.mtime_ns
        )


def is_temp(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


def scan_local(
    root: Path, rules: IgnoreRules | None = None, under: str = "", *, links: bool = False
) -> dict[str, Meta]:
    """Every file and directory below ``root`` (or its subdir ``under``) that is not ignored;
    with ``links``, symlinks too (never followed)."""
    tree: dict[str, Meta] = {}
    stack = [under]
    while stack:
        rel_dir = stack.pop()
        try:
            it = os.scandir(root / rel_dir if rel_dir else root)
        except OSError:
            continue
        with it:
            for dent in it:
                if is_temp(dent.name):
                    continue
                rel = f"{rel_dir}/{dent.name}" if rel_dir else dent.name
                try:
                    meta = Meta.from_stat(dent.stat(follow_symlinks=False))
                except OSError:
                    continue
                if meta is None or (meta.kind == "l" and not links):
                    continue
                is_dir = meta.kind == "d"
                if rules is not None and rules.ignored(rel, is_dir):
                    continue
                tree[rel] = meta
                if is_dir:
                    stack.append(rel)
    return tree


def local_meta(path: Path) -> Meta | None:
    try:
        return Meta.from_stat(path.lstat())
    except OSError:
        return None
