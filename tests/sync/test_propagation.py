"""Sources up and outputs back, through the real sshd, compared byte for byte."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest
from colablink.sync.engine import SyncEngine
from colablink.sync.localwatch import LocalWatch
from conftest import SyncBed, tree_digest
from support import wait_for


def started(bed: SyncBed) -> SyncEngine:
    engine = bed.engine()
    engine.start()
    wait_for(lambda: str(engine.state) == "idle", 30, "the engine to finish its first pass")
    return engine


def test_local_create_edit_rename_delete_reach_the_runtime(bed: SyncBed) -> None:
    engine = started(bed)
    src = bed.project / "train.py"
    src.write_text("print(1)\n")
    assert engine.flush([src])
    assert (bed.remote / "train.py").read_text() == "print(1)\n"

    src.write_text("print(2)  # longer\n")
    assert engine.flush([src])
    assert (bed.remote / "train.py").read_text() == "print(2)  # longer\n"

    src.rename(bed.project / "main.py")
    wait_for(lambda: (bed.remote / "main.py").exists(), 10, "the rename to reach the runtime")
    wait_for(lambda: not (bed.remote / "train.py").exists(), 10, "the old name to go")
    assert (bed.remote / "main.py").read_text() == "print(2)  # longer\n"

    pkg = bed.project / "pkg"
    pkg.mkdir()
    (pkg / "mod.py").write_text("x = 1\n")
    assert engine.flush([pkg / "mod.py"])
    pkg.rename(bed.project / "lib")
    wait_for(lambda: (bed.remote / "lib" / "mod.py").exists(), 10, "the directory rename")
    wait_for(lambda: not (bed.remote / "pkg").exists(), 10, "the old directory to go")

    (bed.project / "main.py").unlink()
    wait_for(lambda: not (bed.remote / "main.py").exists(), 10, "the delete to reach the runtime")
    assert engine.problems == []


def test_kinds_of_files_arrive_identical(bed: SyncBed) -> None:
    (bed.project / "empty").write_bytes(b"")
    (bed.project / "blob.bin").write_bytes(os.urandom(70_000))
    (bed.project / "big.bin").write_bytes(os.urandom(50 * 1024 * 1024))
    (bed.project / "données – ü 日本.txt").write_text("unicode ✓")
    (bed.project / "empty_dir" / "nested_empty").mkdir(parents=True)
    (bed.project / "script.sh").write_text("#!/bin/sh\n")
    (bed.project / "script.sh").chmod(0o755)
    report = bed.engine().sync_once()
    assert report.problems == []
    sources = lambda rel: rel.split("/")[0] == "outputs"  # noqa: E731
    assert tree_digest(bed.project, sources) == tree_digest(bed.remote, sources)
    for rel in ("big.bin", "script.sh", "empty"):
        local, remote = (bed.project / rel).stat(), (bed.remote / rel).stat()
        assert (local.st_mtime_ns, local.st_mode) == (remote.st_mtime_ns, remote.st_mode)


def test_same_size_edit_in_the_same_second_is_synced(bed: SyncBed) -> None:
    path = bed.project / "config.py"
    path.write_text("lr = 0.1\n")
    second = int(time.time())
    os.utime(path, ns=(second * 10**9 + 100, second * 10**9 + 100))
    engine = bed.engine()
    engine.sync_once()
    path.write_text("lr = 0.2\n")  # same size
    os.utime(path, ns=(second * 10**9 + 200, second * 10**9 + 200))  # same second
    engine.sync_once()
    assert (bed.remote / "config.py").read_text() == "lr = 0.2\n"

    # A whole-second mtime on both sides proves nothing: contents are compared by hash.
    path.write_text("lr = 0.3\n")
    os.utime(path, (second, second))
    os.utime(bed.remote / "config.py", (second, second))
    engine.sync_once()
    assert (bed.remote / "config.py").read_text() == "lr = 0.3\n"


def test_remote_outputs_stream_back_and_again_when_changed(bed: SyncBed) -> None:
    engine = started(bed)
    landed: list[Path] = []
    engine.on_outputs(landed.extend)
    bed.remote_write("metrics.json", b'{"loss": 1}')
    local = bed.outputs / "metrics.json"
    wait_for(lambda: local.exists(), 10, "the output to arrive locally")
    assert local.read_bytes() == b'{"loss": 1}'
    big = os.urandom(3 * 1024 * 1024)
    bed.remote_write("ckpt/model.bin", big)
    wait_for(lambda: (bed.outputs / "ckpt" / "model.bin").exists(), 10, "a large output")
    assert (bed.outputs / "ckpt" / "model.bin").read_bytes() == big

    bed.remote_write("metrics.json", b'{"loss": 0.5}')
    wait_for(lambda: local.read_bytes() == b'{"loss": 0.5}', 10, "the changed output")
    assert local in landed
    # Outputs never travel back up, and nothing was left half-written.
    assert not (bed.remote / "outputs" / "outputs").exists()
    assert not [p for p in bed.outputs.rglob("*") if p.name.startswith(".clk~")]


def test_a_file_being_written_arrives_once_settled(bed: SyncBed) -> None:
    engine = started(bed)
    path = bed.remote_out / "log.txt"
    with open(path, "wb") as handle:
        handle.write(b"epoch 1\n")
        handle.flush()
        time.sleep(0.6)  # longer than settle: the partial file is sent
        wait_for(lambda: (bed.outputs / "log.txt").exists(), 10, "the settled partial log")
        handle.write(b"epoch 2\n")
    wait_for(
        lambda: (bed.outputs / "log.txt").read_bytes() == b"epoch 1\nepoch 2\n",
        10,
        "the finished log",
    )
    assert engine.problems == []


def test_pull_never_overwrites_a_local_file(bed: SyncBed) -> None:
    bed.outputs.mkdir()
    mine = bed.outputs / "notes.txt"
    mine.write_text("my own notes")
    bed.remote_write("notes.txt", b"the runtime's version")
    engine = bed.engine()
    engine.sync_once()
    assert mine.read_text() == "my own notes"
    assert any(path == "notes.txt" for path, _ in engine.problems)
    # Push never deleted or replaced anything in the connection directory either.
    assert (bed.remote_out / "notes.txt").read_bytes() == b"the runtime's version"


def test_ignored_paths_never_reach_the_runtime(bed: SyncBed) -> None:
    p = bed.project
    (p / ".gitignore").write_text("*.log\nbuild/\n")
    (p / ".colablinkignore").write_text("secrets.env\n")
    (p / "sub").mkdir()
    (p / "sub" / ".gitignore").write_text("local_only.txt\n")
    for rel in (
        "run.log",
        "build/out.o",
        "secrets.env",
        "sub/local_only.txt",
        ".git/HEAD",
        "__pycache__/m.cpython-311.pyc",
        "pkg/m.pyc",
        ".venv/bin/python",
        "node_modules/x/index.js",
        "outputs/result.txt",
        "data/raw.csv",
        "environment.py",
        "sub/kept.txt",
    ):
        (p / rel).parent.mkdir(parents=True, exist_ok=True)
        (p / rel).write_text(rel)
    engine = bed.engine(excludes=["data/"])
    engine.sync_once()
    engine.start()
    wait_for(lambda: str(engine.state) == "idle", 30, "the first pass")
    (p / "later.log").write_text("x")
    (p / "later.py").write_text("x")
    assert engine.flush([p / "later.log", p / "later.py"])
    remote = set(tree_digest(bed.remote))
    assert {"environment.py", "sub/kept.txt", "later.py", "pkg", "sub"} <= remote
    for rel in (
        "run.log",
        "later.log",
        "build",
        "secrets.env",
        "sub/local_only.txt",
        ".git",
        "__pycache__",
        "pkg/m.pyc",
        ".venv",
        "node_modules",
        "outputs/result.txt",
        "data",
    ):
        assert rel not in remote


def test_deletes_follow_only_files_push_placed_even_across_runs(bed: SyncBed) -> None:
    (bed.project / "a.py").write_text("a")
    (bed.project / "b.py").write_text("b")
    bed.engine().sync_once()
    (bed.remote / "theirs.csv").write_text("made on the runtime")
    (bed.project / "a.py").unlink()
    bed.engine().sync_once()  # a new engine: what was placed comes from the saved records
    assert not (bed.remote / "a.py").exists()
    assert (bed.remote / "theirs.csv").exists() and (bed.remote / "b.py").exists()

    # The same records file for another project: its placements do not apply there.
    other = bed.project.parent / "other"
    other.mkdir()
    spec = replace(bed.spec, local_root=other, local_conn_dir=other / "outputs")
    bed.engine(spec=spec).sync_once()
    assert (bed.remote / "b.py").exists()


def test_an_edit_while_the_watcher_is_being_set_up_lands(
    bed: SyncBed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The local watcher is set up (a walk of every directory) while the agent starts; a slow
    # one (a huge tree) must hold the first pass back, or an edit made after that pass's scan
    # but before the watcher is up is never seen.
    real_start = LocalWatch.start

    def slow_start(self: LocalWatch) -> None:
        time.sleep(1.0)
        real_start(self)

    monkeypatch.setattr(LocalWatch, "start", slow_start)
    src = bed.project / "train.py"
    src.write_text("before\n")
    engine = bed.engine()
    states: list[str] = []
    engine.on_state(lambda state: states.append(str(state)))
    engine.start()
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline and not any(s != "scanning" for s in states):
        time.sleep(0.005)
    src.write_text("after, and nothing more\n")
    remote = bed.remote / "train.py"
    wait_for(lambda: remote.exists() and remote.read_text() == src.read_text(), 10, "the edit")
    assert engine.problems == []


def test_a_watcher_that_cannot_start_halts_the_sync_with_its_reason(
    bed: SyncBed, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_watches(self: LocalWatch) -> None:
        raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(LocalWatch, "start", no_watches)
    engine = bed.engine()
    engine.start()
    wait_for(lambda: str(engine.state).startswith("halted"), 10, "the halt")
    assert "cannot watch the project for changes" in str(engine.state)
    assert "inotify watch limit reached" in str(engine.state)
    engine.stop()
