"""Listing a local tree the way the agent lists a remote one: lstat, no symlinks followed."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import NamedTuple

from colablink_runtime.sync_agent import entry_of, gc_paused

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
        # ``type(...) is int`` also refuses bools; this runs once per listed remote entry.
        if (
            kind not in ("f", "d", "l")
            or type(size) is not int
            or type(mtime_ns) is not int
            or type(mode) is not int
        ):
            raise ValueError(f"malformed entry {entry!r}")
        assert isinstance(kind, str)
        return entry[0], tuple.__new__(cls, (kind, size, mtime_ns, mode))

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
    with ``links``, symlinks too (never followed).

    This is the hot loop of every full pass (one iteration per entry of the tree): string
    paths, the stat read inline (the same reading as ``Meta.from_stat``), nothing per entry
    beyond the stat and the ignore check."""
    tree: dict[str, Meta] = {}
    root_str = str(root)
    ignored = rules.ignored if rules is not None else None
    stack = [under]
    with gc_paused():
        _walk(root_str, stack, tree, ignored, links)
    return tree


def _walk(
    root_str: str,
    stack: list[str],
    tree: dict[str, Meta],
    ignored: Callable[[str, bool], bool] | None,
    links: bool,
) -> None:
    new_meta = tuple.__new__
    while stack:
        rel_dir = stack.pop()
        prefix = f"{rel_dir}/" if rel_dir else ""
        try:
            it = os.scandir(os.path.join(root_str, rel_dir) if rel_dir else root_str)  # noqa: PTH118
        except OSError:
            continue
        with it:
            for dent in it:
                name = dent.name
                if name.startswith(TEMP_PREFIX):
                    continue
                try:
                    st = dent.stat(follow_symlinks=False)
                except OSError:
                    continue
                fmt = stat.S_IFMT(st.st_mode)
                if fmt == stat.S_IFREG:
                    kind, size = "f", st.st_size
                elif fmt == stat.S_IFDIR:
                    kind, size = "d", 0
                elif fmt == stat.S_IFLNK and links:
                    kind, size = "l", 0
                else:
                    continue
                rel = prefix + name
                if ignored is not None and ignored(rel, kind == "d"):
                    continue
                tree[rel] = new_meta(Meta, (kind, size, st.st_mtime_ns, stat.S_IMODE(st.st_mode)))
                if kind == "d":
                    stack.append(rel)


def scan_in_background(
    root: Path, rules: IgnoreRules | None = None, *, links: bool = False
) -> Future[dict[str, Meta]]:
    """``scan_local`` on its own thread: a one-off pass overlaps it with connecting to the
    runtime and starting the agent (several round trips). ``rules`` must not be used meanwhile."""
    future: Future[dict[str, Meta]] = Future()

    def run() -> None:
        try:
            future.set_result(scan_local(root, rules, links=links))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name="colablink-scan", daemon=True).start()
    return future


def local_meta(path: Path) -> Meta | None:
    try:
        return Meta.from_stat(path.lstat())
    except OSError:
        return None
