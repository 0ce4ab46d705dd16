"""Deciding what to send, fetch, delete or leave, from two listings and the records.

Pure functions: no I/O, so every rule here is unit-testable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from colablink.sync.scan import Meta

SECOND = 1_000_000_000


def coarse(mtime_ns: int) -> bool:
    """A whole-second mtime: the filesystem may not keep nanoseconds, so equality proves little."""
    return mtime_ns % SECOND == 0


@dataclass
class PushPlan:
    mkdirs: list[tuple[str, int]] = field(default_factory=list)
    puts: list[str] = field(default_factory=list)
    doubt: list[str] = field(default_factory=list)  # same size, mtimes unhelpful: compare hashes
    deletes: list[tuple[str, str]] = field(default_factory=list)  # (path, kind), placed only
    adopt: dict[str, Meta] = field(default_factory=dict)  # already identical remotely
    links: list[str] = field(default_factory=list)  # symlinks to (re)create


def compare_file(local: Meta, remote: Meta | None) -> str:
    """``same``, ``send`` or ``doubt`` for one local file against its remote counterpart."""
    if remote is None or remote.kind != "f" or remote.size != local.size:
        return "send"
    if (
        remote.mtime_ns == local.mtime_ns
        and remote.mode == local.mode
        and not coarse(local.mtime_ns)
    ):
        return "same"
    # Same size: equal hashes need only the mtime and mode set remotely (a chmod is a change).
    return "doubt"


def plan_push(local: dict[str, Meta], remote: dict[str, Meta], placed: dict[str, Meta]) -> PushPlan:
    plan = PushPlan()
    for rel, meta in local.items():
        theirs = remote.get(rel)
        if meta.kind == "d":
            if theirs is not None and theirs.kind == "d":
                plan.adopt[rel] = meta
            else:
                plan.mkdirs.append((rel, meta.mode))
            continue
        if meta.kind == "l":
            # Same length of target and same mtime: the link push made (it keeps the mtime).
            if theirs is not None and theirs.kind == "l" and meta.same_content_hint(theirs):
                plan.adopt[rel] = meta
            else:
                plan.links.append(rel)
            continue
        verdict = compare_file(meta, theirs)
        if verdict == "same":
            plan.adopt[rel] = meta
        elif verdict == "doubt":
            plan.doubt.append(rel)
        else:
            plan.puts.append(rel)
    for rel, theirs in remote.items():
        if rel not in local and rel in placed and theirs.kind in ("f", "d", "l"):
            plan.deletes.append((rel, theirs.kind))
    # Sorted (parents first) once at the end: a no-change pass sorts nothing.
    for names in (plan.puts, plan.doubt, plan.links):
        names.sort()
    plan.mkdirs.sort()
    return plan


@dataclass
class PullPlan:
    mkdirs: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    adopt: dict[str, tuple[Meta, Meta]] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def decide_pull(
    remote: Meta, local: Meta | None, record: tuple[Meta, Meta] | None
) -> tuple[str, str]:
    """One of ``read``, ``mkdir``, ``skip``, ``adopt`` or ``refuse`` (with the reason)."""
    if remote.kind == "l":
        return "refuse", "is a symlink on the runtime; it is not followed"
    if remote.kind == "d":
        if local is None:
            return "mkdir", ""
        if local.kind == "d":
            return "skip", ""
        return "refuse", "a local file is in the way of this directory"
    if local is None:
        # Pulled before and deleted locally since: only a newer remote version comes back.
        if record is not None and record[0].same_content_hint(remote):
            return "skip", ""
        return "read", ""
    if local.kind != "f":
        return "refuse", "a local directory is in the way of this file"
    if record is not None and record[1].same_content_hint(local):
        return ("skip", "") if record[0].same_content_hint(remote) else ("read", "")
    if local.size == remote.size and local.mtime_ns == remote.mtime_ns:
        return "adopt", ""
    return "refuse", "a local file with this name exists and pull never overwrites local files"


def plan_pull(
    remote: dict[str, Meta], local: dict[str, Meta], records: dict[str, tuple[Meta, Meta]]
) -> PullPlan:
    plan = PullPlan()
    for rel, meta in sorted(remote.items()):
        verdict, why = decide_pull(meta, local.get(rel), records.get(rel))
        if verdict == "read":
            plan.reads.append(rel)
        elif verdict == "mkdir":
            plan.mkdirs.append(rel)
        elif verdict == "adopt":
            plan.adopt[rel] = (meta, local[rel])
        elif verdict == "refuse":
            plan.refused.append((rel, why))
    return plan
