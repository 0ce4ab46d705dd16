"""A full pass compares only the directories whose digest differs, and still misses nothing.

The runtime sends one digest per directory; the local side lists, entry by entry, only the
directories whose digest is not the one its own scan produces. The local scan stays the source
of truth: a runtime that answers with stale or made-up digests only causes more listing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from colablink.sync.agent_client import SyncAgentClient
from colablink.sync.digests import expected
from colablink.sync.ignore import BUILTIN_DIR_NAMES, IgnoreRules
from colablink.sync.scan import scan_local
from colablink.sync.wire import agent_source
from colablink_runtime.sync_agent import tree_digests
from conftest import SyncBed, owner, tree_digest

NS = 1_700_000_000_123_456_789

# Appended to the real agent: its first digests are kept under the pruned .colablink/ and
# replayed ever after (a runtime claiming nothing changed), plus a made-up escaping name.
STALE_DIGESTS = b"""

class Agent(Agent):
    def op_digests(self, header, body):
        kept = os.path.join(header["root"], ".colablink", "digests.json")
        try:
            with open(kept) as handle:
                digests = json.load(handle)
        except OSError:
            digests = tree_digests(header["root"], set(header["prune"]),
                                   set(header["prune_names"]))
            os.makedirs(os.path.dirname(kept), exist_ok=True)
            with open(kept, "w") as handle:
                json.dump(digests, handle)
        self.ok(header, digests={**digests, "../../escaped": "0" * 32}, exists=True)
"""


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Every request the local side sends to the agent."""
    seen: list[dict[str, Any]] = []
    real = SyncAgentClient.request

    def spy(self: SyncAgentClient, header: dict[str, Any], *args: Any, **kw: Any) -> Future[Any]:
        seen.append(header)
        return real(self, header, *args, **kw)

    monkeypatch.setattr(SyncAgentClient, "request", spy)
    yield seen


def push_listings(seen: list[dict[str, Any]], root: Path) -> list[list[str] | None]:
    """The listings of the project's remote tree asked for: the directories, or None (all)."""
    return [h.get("dirs") for h in seen if h.get("op") == "manifest" and h["root"] == str(root)]


def write(path: Path, data: bytes, mtime_ns: int = NS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def remote_rewrite(bed: SyncBed, rel: str, data: bytes, mtime_ns: int) -> None:
    """Rewrite a remote file in place (no rename: its directory's own stat does not change)."""
    path = bed.remote / rel
    with open(path, "r+b") as handle:
        handle.write(data)
        handle.truncate()
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_the_digests_of_both_sides_agree(tmp_path: Path) -> None:
    write(tmp_path / "top.txt", b"top")
    write(tmp_path / "a" / "b" / "deep.py", b"print(1)\n")
    write(tmp_path / "a" / "run.sh", b"#!/bin/sh\n")
    (tmp_path / "a" / "run.sh").chmod(0o755)
    write(tmp_path / "ünï cödé" / "naïve.txt", b"x")
    (tmp_path / "empty").mkdir()
    os.symlink("top.txt", tmp_path / "link")
    os.utime(tmp_path / "link", ns=(NS, NS), follow_symlinks=False)
    write(tmp_path / "a" / ".clk~1~2~partial", b"a temp file is in neither listing")
    # Pruned on the runtime by name (built-ins) and by path (a connection dir), ignored here.
    write(tmp_path / "a" / "__pycache__" / "m.pyc", b"\0")
    write(tmp_path / "outputs" / "o.txt", b"o")
    rules = IgnoreRules(tmp_path, ignored_dirs=("outputs",))
    mine = expected(scan_local(tmp_path, rules, links=True))
    theirs = tree_digests(str(tmp_path), {"outputs"}, set(BUILTIN_DIR_NAMES))
    assert mine == theirs
    assert set(mine) == {"", "a", "a/b", "ünï cödé", "empty"}

    # Anything a pass compares changes the digest of the directory holding it.
    (tmp_path / "a" / "run.sh").chmod(0o700)
    write(tmp_path / "a" / "b" / "deep.py", b"print(2)\n", NS + 1)
    changed = expected(scan_local(tmp_path, rules, links=True))
    assert {rel for rel in mine if mine[rel] != changed[rel]} == {"a", "a/b"}

    # A whole-second mtime proves little: that directory is always compared.
    write(tmp_path / "a" / "b" / "deep.py", b"print(2)\n", 1_700_000_000_000_000_000)
    assert expected(scan_local(tmp_path, rules, links=True))["a/b"] is None


def test_a_no_change_pass_lists_nothing_and_remote_drift_is_still_repaired(
    bed: SyncBed, requests: list[dict[str, Any]]
) -> None:
    write(bed.project / "top.txt", b"top v1")
    write(bed.project / "a" / "b" / "c.txt", b"same size 1")
    write(bed.project / "a" / "coarse.txt", b"whole second", 1_700_000_000_000_000_000)
    write(bed.project / "e" / "f.txt", b"f")
    write(bed.project / "gone" / "sub" / "y.txt", b"y")
    os.symlink("top.txt", bed.project / "link")
    engine = bed.engine()
    engine.sync_once()
    requests.clear()

    report = engine.sync_once()
    assert report.push.sent == [] and report.push.deleted == []
    # Only the directory with a whole-second mtime in it is listed.
    assert push_listings(requests, bed.remote) == [["a"]]

    uid, gid = owner(bed.remote)
    extra = bed.remote / "a" / "made-remotely.txt"
    extra.write_bytes(b"not ours")
    os.chown(extra, uid, gid)
    remote_rewrite(bed, "a/b/c.txt", b"same size 2", NS + 5)  # same size, new mtime
    remote_rewrite(bed, "a/coarse.txt", b"WHOLE SECOND", 1_700_000_000_000_000_000)
    (bed.remote / "e" / "f.txt").unlink()
    write(bed.project / "top.txt", b"top v2", NS + 9)
    for path in sorted((bed.project / "gone").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (bed.project / "gone").rmdir()
    requests.clear()

    engine.sync_once()
    skip = lambda rel: rel == "outputs" or rel.startswith(("outputs/", ".colablink"))  # noqa: E731
    remote = tree_digest(bed.remote, skip)
    assert remote.pop("a/made-remotely.txt") is not None  # never placed: left alone
    assert remote == tree_digest(bed.project, skip)
    listed = push_listings(requests, bed.remote)
    assert len(listed) == 1 and listed[0] is not None  # directories, not the whole tree
    assert set(listed[0]) <= {"", "a", "a/b", "e", "gone", "gone/sub"}


def test_stale_digests_from_the_runtime_never_hide_a_local_change(
    bed: SyncBed, tmp_path: Path
) -> None:
    write(bed.project / "a" / "keep.txt", b"v1")
    write(bed.project / "b" / "other.txt", b"other")
    before = tree_digest(tmp_path)
    engine = bed.engine(agent_source=agent_source() + STALE_DIGESTS)
    engine.sync_once()
    assert (bed.remote / "a" / "keep.txt").read_bytes() == b"v1"

    write(bed.project / "a" / "keep.txt", b"v2", NS + 1)
    write(bed.project / "a" / "new.txt", b"new", NS + 2)
    (bed.remote / "b" / "other.txt").unlink()  # the replayed digests hide this one
    engine.sync_once()
    assert (bed.remote / "a" / "keep.txt").read_bytes() == b"v2"
    assert (bed.remote / "a" / "new.txt").read_bytes() == b"new"
    assert any(path == "../../escaped" for path, _ in engine.problems)
    assert not (bed.remote.parent.parent / "escaped").exists()
    changed = {rel for rel, d in tree_digest(tmp_path).items() if before.get(rel) != d}
    assert {rel.split("/")[0] for rel in changed} <= {"project", "state"}, changed
    assert json.loads(bed.state.read_text())["placed"]["a/new.txt"]
