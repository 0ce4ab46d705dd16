"""The runtime is not trusted: symlinks and crafted paths never write outside the outputs dir."""

from __future__ import annotations

import os
from pathlib import Path

from colablink.sync.wire import agent_source
from conftest import SyncBed, owner, tree_digest
from support import wait_for

# Appended to the real agent: every listing and change event also names escaping paths, and
# reads of them are answered with content, as a compromised runtime would.
CRAFTED = b"""

_real_scan = scan_tree
EVIL = ["../x", "/tmp/colablink-evil-abs", "a/../../y", "nul\\x00name", "ok/../../../z"]


def scan_tree(root, prune, prune_names, versions=False):
    yield from _real_scan(root, prune, prune_names, versions)
    for rel in EVIL:
        yield [rel, "f", 4, 1, 0o644]


class Agent(Agent):
    def op_read(self, header, body):
        for rel in header["paths"]:
            self.send_file(header["seq"], header["root"], rel)
        for rel in EVIL:
            self.out.send({"op": "data", "seq": header["seq"], "path": rel, "size": 4,
                "mtime_ns": 1, "mode": 0o644, "offset": 0, "last": True, "changed": False},
                b"EVIL")
        self.ok(header, errors=[])

    def op_watch(self, header, body):
        super().op_watch(header, body)
        entries = [[rel, "f", 4, 1, 0o644, 4] for rel in EVIL]
        self.out.send({"op": "changed", "watch": header["watch"], "entries": entries},
            b"EVIL" * len(EVIL))
"""


ALLOWED = ("project", "project/outputs", "state", "state/sync.json")


def written_outside(base: Path, before: dict[str, str]) -> list[str]:
    """What changed under ``base`` other than the outputs dir and the sync records."""
    return [
        rel
        for rel, digest in tree_digest(base).items()
        if before.get(rel) != digest
        and rel not in ALLOWED
        and not rel.startswith("project/outputs/")
    ]


def counted(problems: list[tuple[str, str]]) -> int:
    """Paths reported: those named, plus those in "N more paths" lines."""
    return sum(
        int(p.split()[0]) if p.endswith((" more path", " more paths")) else 1 for p, _ in problems
    )


def test_symlinks_in_the_remote_outputs_are_reported_and_not_followed(bed: SyncBed) -> None:
    bed.remote_out.mkdir(parents=True)
    os.symlink("../../", bed.remote_out / "up")
    os.symlink("/etc", bed.remote_out / "etc")
    os.symlink("/etc/passwd", bed.remote_out / "passwd")
    (bed.remote_out / "real.txt").write_text("fine")
    uid, gid = owner(bed.remote)
    for name in ("up", "etc", "passwd", "real.txt"):
        os.lchown(bed.remote_out / name, uid, gid)
    before = tree_digest(bed.project.parent)
    engine = bed.engine()
    engine.sync_once()
    engine.start()
    wait_for(lambda: str(engine.state) == "idle", 30, "the first pass")
    os.symlink("/root", bed.remote_out / "later")
    wait_for(lambda: any(p == "later" for p, _ in engine.problems), 10, "the new link reported")
    engine.stop()
    assert (bed.outputs / "real.txt").read_text() == "fine"
    for name in ("up", "etc", "passwd", "later"):
        assert not os.path.lexists(bed.outputs / name)
        assert any(p == name for p, _ in engine.problems)
    assert written_outside(bed.project.parent, before) == []


def test_crafted_agent_messages_cannot_escape(bed: SyncBed, tmp_path: Path) -> None:
    before = tree_digest(tmp_path)
    bed.remote_write("legit.txt", b"ok")
    engine = bed.engine(agent_source=agent_source() + CRAFTED)
    engine.sync_once()
    engine.start()
    wait_for(lambda: str(engine.state) == "idle", 30, "the first pass")
    wait_for(lambda: len(engine.problems) >= 5, 10, "the crafted entries reported")
    engine.stop()
    assert (bed.outputs / "legit.txt").read_bytes() == b"ok"
    assert not Path("/tmp/colablink-evil-abs").exists()
    for rel in ("x", "y", "z"):
        for base in (tmp_path, bed.project):
            assert not (base / rel).exists()
    assert written_outside(tmp_path, before) == []
    reported = {path for path, _ in engine.problems}
    for rel in ("../x", "/tmp/colablink-evil-abs", "a/../../y", "ok/../../../z"):
        assert rel in reported


# Appended to the real agent: the first inotify read after the watch starts reports a queue
# overflow, as a burst of more events than the kernel queue holds would.
OVERFLOW = b"""

_real_read = Inotify.read
_overflowed = []


def _read_overflowing_once(self, timeout):
    events = _real_read(self, timeout)
    if events and not _overflowed:
        _overflowed.append(True)
        return None
    return events


Inotify.read = _read_overflowing_once
"""


def test_an_inotify_overflow_triggers_a_rescan_that_misses_nothing(bed: SyncBed) -> None:
    engine = bed.engine(agent_source=agent_source() + OVERFLOW)
    engine.start()
    wait_for(lambda: str(engine.state) == "idle", 30, "the first pass")
    states: list[str] = []
    engine.on_state(lambda s: states.append(str(s)))
    bed.remote_write("a.txt", b"first")  # its event is swallowed by the overflow
    wait_for(lambda: (bed.outputs / "a.txt").exists(), 10, "the file found by the rescan")
    assert (bed.outputs / "a.txt").read_bytes() == b"first"
    assert "scanning" in states
    bed.remote_write("b.txt", b"second")  # events flow normally again
    wait_for(lambda: (bed.outputs / "b.txt").exists(), 10, "the next file")
