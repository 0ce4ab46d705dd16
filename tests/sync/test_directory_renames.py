"""A directory renamed on the runtime is renamed locally, through the real sshd and agent.

Checkpointing libraries save into a temporary directory and rename it into place once its last
file is written (orbax's ``<step>.orbax-checkpoint-tmp-<n>``, a trainer's ``tmp-checkpoint``).
The local copy must follow: the files already pulled are renamed, not fetched again, and the
temporary's name is not left behind.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import SyncBed
from support import spawn_as, wait_for


def tree(root: Path) -> dict[str, bytes]:
    """The files under ``root`` (pull's temp files, which come and go, left out)."""
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if path.name.startswith(".clk~") or path.is_symlink() or not path.is_file():
            continue
        try:
            found[str(path.relative_to(root))] = path.read_bytes()
        except FileNotFoundError:
            continue  # renamed or removed meanwhile: the next look sees it
    return found


def checkpoint(small_files: int) -> dict[str, bytes]:
    files = {
        "model.bin": os.urandom(400_000),  # fetched, not inline
        "meta.json": b'{"step": 100}',
        "shards/00.bin": os.urandom(300_000),
        "shards/deeper/01.bin": os.urandom(1000),
    }
    files.update({f"many/{i:04}.txt": b"x%d" % i for i in range(small_files)})
    return files


@pytest.mark.parametrize("small_files", [0, 2500], ids=["one-frame", "several-frames"])
def test_a_directory_renamed_on_the_runtime_is_renamed_locally(
    bed: SyncBed, small_files: int
) -> None:
    engine = bed.engine()
    states: list[str] = []
    engine.on_state(lambda state: states.append(str(state)))
    engine.start()
    wait_for(lambda: str(engine.state) == "idle", 30, "the first pass")
    files = checkpoint(small_files)
    for rel, data in files.items():
        bed.remote_write(f"tmp-100/{rel}", data)
    old = bed.outputs / "tmp-100"
    wait_for(lambda: tree(old) == files, 30, "the checkpoint under its temporary name")
    inodes = {rel: (old / rel).stat().st_ino for rel in files}
    pins = bed.project.parent / "pins"
    pins.mkdir()
    for index, rel in enumerate(files):  # the inodes stay in use, so none can be reused
        os.link(old / rel, pins / str(index))
    (bed.remote_out / "tmp-100").rename(bed.remote_out / "step-100")
    new = bed.outputs / "step-100"
    wait_for(lambda: tree(new) == files and not old.exists(), 30, "the local rename")
    assert {rel: (new / rel).stat().st_ino for rel in files} == inodes  # renamed, not fetched
    assert engine.problems == []
    assert not [s for s in states if s.startswith("disconnected")], states


def test_a_directory_moved_in_with_more_than_a_frame_of_content_arrives(bed: SyncBed) -> None:
    engine = bed.engine()
    states: list[str] = []
    engine.on_state(lambda state: states.append(str(state)))
    engine.start()
    wait_for(lambda: str(engine.state) == "idle", 30, "the first pass")
    staging = bed.remote / "staging"
    files = {f"r{i:03}.bin": os.urandom(200_000) for i in range(400)}  # 80 MB of inline-sized
    for rel, data in files.items():
        bed.remote_write(f"../staging/{rel}", data)
    staging.rename(bed.remote_out / "results")
    wait_for(lambda: tree(bed.outputs / "results") == files, 60, "the results")
    assert engine.problems == []
    assert not [s for s in states if s.startswith("disconnected")], states


def test_a_local_file_in_a_renamed_directory_stays_where_it_is(bed: SyncBed) -> None:
    engine = bed.engine()
    engine.start()
    wait_for(lambda: str(engine.state) == "idle", 30, "the first pass")
    bed.remote_write("run/metrics.json", b"{}")
    old = bed.outputs / "run"
    wait_for(lambda: (old / "metrics.json").exists(), 10, "the metrics")
    (old / "notes.txt").write_text("mine")
    bed.remote_write("run/edited.txt", b"theirs")
    wait_for(lambda: (old / "edited.txt").exists(), 10, "the second file")
    (old / "edited.txt").write_text("edited here")
    (bed.remote_out / "run").rename(bed.remote_out / "run-final")
    new = bed.outputs / "run-final"
    wait_for(lambda: (new / "metrics.json").exists() and (new / "edited.txt").exists(), 10, "it")
    assert tree(old) == {"notes.txt": b"mine", "edited.txt": b"edited here"}
    assert tree(new) == {"metrics.json": b"{}", "edited.txt": b"theirs"}
    assert engine.problems == []


# A job on the runtime, as its user: a log held open in a temporary run directory, which is
# renamed once the test has seen the log arrive, and written on under the new name.
JOB = r"""
import os, sys
out = sys.argv[1]
os.makedirs(os.path.join(out, "run.tmp"))
log = open(os.path.join(out, "run.tmp", "train.log"), "a")
for i in range(5):
    log.write(f"line {i}\n")
    log.flush()
sys.stdin.readline()
os.rename(os.path.join(out, "run.tmp"), os.path.join(out, "run"))
sys.stdin.readline()
for i in range(5, 10):
    log.write(f"line {i}\n")
    log.flush()
log.close()
"""


def test_a_directory_renamed_while_a_file_in_it_is_written_leaves_nothing_behind(
    bed: SyncBed,
) -> None:
    engine = bed.engine()
    engine.start()
    wait_for(lambda: str(engine.state) == "idle", 30, "the first pass")
    job = spawn_as(bed.rt.username, ["python3", "-c", JOB, str(bed.remote_out)])
    assert job.stdin is not None
    try:
        first = "".join(f"line {i}\n" for i in range(5)).encode()
        old = bed.outputs / "run.tmp" / "train.log"
        wait_for(lambda: old.exists() and old.read_bytes() == first, 10, "the growing log")
        job.stdin.write(b"rename\n")
        job.stdin.flush()
        wait_for(lambda: (bed.remote_out / "run").is_dir(), 10, "the rename on the runtime")
        job.stdin.write(b"go on\n")
        job.stdin.close()
        assert job.wait(10) == 0
    finally:
        if job.poll() is None:
            job.kill()
        job.wait()
    whole = "".join(f"line {i}\n" for i in range(10)).encode()
    new = bed.outputs / "run" / "train.log"
    wait_for(lambda: new.exists() and new.read_bytes() == whole, 10, "the log under its new name")
    wait_for(lambda: not (bed.outputs / "run.tmp").exists(), 5, "the old name to go")
    assert engine.problems == []
