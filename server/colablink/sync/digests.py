"""Which remote directories a full push pass must look at entry by entry.

The runtime sends one digest per directory of what a push pass compares (``tree_digests`` in
the sync agent); the local side computes the digest it expects from its own scan. Only the
directories that differ, that the local side lacks, or that the runtime lacks are compared in
full, so a pass over an unchanged tree transfers and compares no entry at all.

The local scan stays the source of truth: a digest the runtime gets wrong (or makes up) can
only make a directory look different, which costs a listing of it; the entries of a directory
are adopted only when its digest is exactly the one the local files produce.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from colablink_runtime.sync_agent import digest_of

from colablink.sync.reconcile import SECOND
from colablink.sync.scan import Meta


def expected(local: dict[str, Meta]) -> dict[str, str | None]:
    """The digest each local directory (``""``: the root) should have on the runtime, or None
    where it must be compared anyway: a directory holding a file with a whole-second mtime,
    where equal metadata proves little (a same-size rewrite within the second).

    One pass over the whole tree, on the path of every no-change pass: the lines are made
    inline, in ``digest_line``'s format."""
    lines: dict[str, list[str]] = {"": []}
    unsure: set[str] = set()
    for rel, (kind, size, mtime_ns, mode) in local.items():
        parent, _, name = rel.rpartition("/")
        if kind == "f":
            line = f"{name}/f{size}.{mtime_ns}.{mode}"
            if mtime_ns % SECOND == 0:
                unsure.add(parent)
        elif kind == "l":
            line = f"{name}/l{mtime_ns}"
        else:
            line = f"{name}/d"
            if rel not in lines:
                lines[rel] = []
        into = lines.get(parent)
        if into is None:  # a parent listed after its entries
            into = lines[parent] = []
        into.append(line)
    return {rel: None if rel in unsure else digest_of(entries) for rel, entries in lines.items()}


def members(local: dict[str, Meta], dirs: set[str]) -> dict[str, Meta]:
    """The local entries directly in ``dirs``."""
    return {rel: meta for rel, meta in local.items() if rel.rpartition("/")[0] in dirs}


@dataclass
class Divergence:
    differ: list[str] = field(default_factory=list)  # local dirs whose remote entries differ
    missing: list[str] = field(default_factory=list)  # local dirs the runtime lacks
    remote_only: list[str] = field(default_factory=list)  # unchecked names from the runtime


def diverging(mine: dict[str, str | None], theirs: dict[str, object]) -> Divergence:
    found = Divergence()
    for rel, digest in mine.items():
        if rel not in theirs:
            found.missing.append(rel)
        elif digest is None or theirs[rel] != digest:
            found.differ.append(rel)
    found.remote_only = sorted(rel for rel in theirs if rel not in mine)
    return found
