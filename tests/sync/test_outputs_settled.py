"""Outputs are never torn and never older, through the real sshd and the real ``colablink watch``.

A job on the runtime (as the runtime's user) appends to a log it holds open, rewrites a
checkpoint in bursts with pauses shorter than the settle time, and safe-saves another file by
writing a temp and renaming it over the final name. It announces every version before writing
it. Meanwhile a sampler reads the local copies: each must be a version the job announced, never
one older than a copy seen before, and the log must always be a prefix of what the job wrote,
arriving within about a second.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from colablink.sync.wire import agent_source
from conftest import SyncBed
from support import spawn_as, wait_for
from support.runtimes import RuntimeHandle
from test_hostile_remote import OVERFLOW
from watch_cli import Local, Watch

JOB_SECONDS = 7.0
LOG_LAG_LIMIT = 1.5

JOB = r"""
import hashlib, json, os, sys, time

out, duration = sys.argv[1], float(sys.argv[2])
os.makedirs(out, exist_ok=True)


def say(**record):
    record["t"] = time.time()
    print(json.dumps(record), flush=True)


def announce(name, data):
    say(file=name, sha=hashlib.sha256(data).hexdigest())


log = open(os.path.join(out, "train.log"), "a")
start = time.time()
next_ckpt, next_best, step = start + 0.5, start + 0.9, 0
while time.time() - start < duration:
    step += 1
    line = f"step {step} loss {1 / step:.6f}\n"
    say(log=line)
    log.write(line)
    log.flush()
    if time.time() >= next_ckpt:
        data = os.urandom(600_000)  # too big to travel inside an event
        announce("model.ckpt", data)
        with open(os.path.join(out, "model.ckpt"), "wb") as ckpt:
            for i in range(3):
                ckpt.write(data[i * 200_000 : (i + 1) * 200_000])
                ckpt.flush()
                time.sleep(0.15)  # a pause mid-write, shorter than the settle time
        next_ckpt = time.time() + 0.8
    if time.time() >= next_best:
        data = os.urandom(60_000)
        announce("best.pt", data)
        temp = os.path.join(out, "best.pt.tmp")
        with open(temp, "wb") as best:
            best.write(data[:30_000])
            best.flush()
            time.sleep(0.1)
            best.write(data[30_000:])
        os.replace(temp, os.path.join(out, "best.pt"))
        next_best = time.time() + 1.1
    time.sleep(0.1)
log.close()
say(done=True)
"""


@dataclass
class Journal:
    """What the job announced, as the test heard it."""

    versions: dict[str, list[str]] = field(
        default_factory=lambda: {"model.ckpt": [], "best.pt": []}
    )
    lines: list[tuple[float, int]] = field(default_factory=list)  # (time, log size after it)
    log: bytearray = field(default_factory=bytearray)
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hear(self, record: dict[str, object]) -> None:
        with self.lock:
            if "log" in record:
                self.log += str(record["log"]).encode()
                self.lines.append((float(str(record["t"])), len(self.log)))
            elif "file" in record:
                self.versions[str(record["file"])].append(str(record["sha"]))
            elif record.get("done"):
                self.done = True


@dataclass
class Sampler:
    """Reads the local copies over and over; records what is wrong as it happens."""

    outputs: Path
    journal: Journal
    faults: list[str] = field(default_factory=list)
    log_sizes: list[tuple[float, int]] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)  # file -> latest version index seen
    samples: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            time.sleep(0.01)

    def sample(self) -> None:
        self.samples += 1
        for name in ("model.ckpt", "best.pt"):
            data = read(self.outputs / name)
            if data is None:
                continue
            digest = hashlib.sha256(data).hexdigest()
            with self.journal.lock:
                versions = list(self.journal.versions[name])
            if digest not in versions:
                self.faults.append(f"{name}: a torn or unknown copy ({len(data)} bytes)")
                continue
            index = versions.index(digest)
            if index < self.seen.get(name, -1):
                self.faults.append(f"{name}: went back from version {self.seen[name]} to {index}")
            self.seen[name] = max(index, self.seen.get(name, -1))
        log = read(self.outputs / "train.log")
        if log is not None:
            now = time.time()
            with self.journal.lock:
                written = bytes(self.journal.log)
            if not written.startswith(log):
                self.faults.append(f"train.log: {len(log)} bytes that the job did not write")
            self.log_sizes.append((now, len(log)))


def read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def log_lags(journal: Journal, sizes: list[tuple[float, int]]) -> list[float]:
    """For each log line: how long after the job wrote it the local copy first held it."""
    lags: list[float] = []
    for written_at, end in journal.lines:
        arrived = next((t for t, size in sizes if size >= end and t >= written_at), None)
        assert arrived is not None, f"the log line ending at byte {end} never arrived"
        lags.append(arrived - written_at)
    return lags


def test_outputs_arrive_settled_in_order_and_logs_as_they_grow(
    runtime: RuntimeHandle, local: Local
) -> None:
    (local.project / "train.py").write_text("print('train')\n")
    enrolled = local.cli("init", input=json.dumps(runtime.info))
    assert enrolled.returncode == 0, enrolled.stderr
    conn_dir = local.profile()["remote_dir"]
    remote_out = Path(runtime.remote_root) / conn_dir
    outputs = local.project / local.profile()["local_dir"]
    watch = Watch(local)
    journal = Journal()
    sampler = Sampler(outputs, journal)
    job = None
    try:
        watch.wait(lambda: watch.saw("sync: idle"), 60, "the first sync")
        job = spawn_as(runtime.username, ["python3", "-c", JOB, str(remote_out), str(JOB_SECONDS)])
        assert job.stdout is not None
        sampling = threading.Thread(target=sampler.run, daemon=True)
        sampling.start()
        for raw in job.stdout:
            journal.hear(json.loads(raw))
        assert job.wait(10) == 0
        assert journal.done
        final = {name: versions[-1] for name, versions in journal.versions.items()}

        def settled() -> bool:
            return (
                read(outputs / "train.log") == bytes(journal.log)
                and all(
                    hashlib.sha256(read(outputs / name) or b"").hexdigest() == sha
                    for name, sha in final.items()
                )
                and not (outputs / "best.pt.tmp").exists()
            )

        watch.wait(settled, 10, "the final versions to arrive")
        sampler.stop.set()
        sampling.join(5)
    finally:
        sampler.stop.set()
        if job is not None and job.poll() is None:
            job.kill()
            job.wait()
        watch.kill()
    lags = log_lags(journal, sampler.log_sizes)
    print(
        f"{sampler.samples} samples; {len(journal.lines)} log lines; log lag median "
        f"{statistics.median(lags):.2f} s, max {max(lags):.2f} s; versions "
        f"{ {name: len(v) for name, v in journal.versions.items()} }"
    )
    assert sampler.faults == [], sampler.faults[:10]
    assert max(lags) <= LOG_LAG_LIMIT, f"log lag up to {max(lags):.2f} s"
    assert all(len(v) >= 3 for v in journal.versions.values()), journal.versions
    # Versions were seen along the way, not only the last one at the end.
    assert sampler.seen["model.ckpt"] >= 1 and sampler.seen["best.pt"] >= 1
    assert not [p for p in outputs.rglob("*") if p.name.startswith((".clk~", "best.pt.tmp"))]
    skipped = [line for line in watch.lines if "skipped" in line]
    assert skipped == [], skipped
    assert os.listdir(outputs)


# Appended to the real agent: every later change event for m.txt is followed by a replay of the
# first one, as an event queued for an old version and delivered late would be.
STALE = b"""

_real_send = Output.send
_stash = []


def _send_with_replay(self, header, body=b""):
    _real_send(self, header, body)
    if header.get("op") == "changed" and any(e[0] == "m.txt" for e in header["entries"]):
        if _stash:
            _real_send(self, *_stash[0])
        else:
            _stash.append((header, bytes(body)))


Output.send = _send_with_replay
"""


def test_an_event_for_an_older_version_never_replaces_a_newer_copy(bed: SyncBed) -> None:
    engine = bed.engine(agent_source=agent_source() + STALE)
    engine.start()
    wait_for(lambda: str(engine.state) == "idle", 30, "the first pass")
    local = bed.outputs / "m.txt"
    bed.remote_write("m.txt", b"version 1")
    wait_for(lambda: read(local) == b"version 1", 10, "the first version")
    bed.remote_write("m.txt", b"version 2, longer")
    wait_for(lambda: read(local) == b"version 2, longer", 10, "the second version")
    bed.remote_write("marker.txt", b"after the replay")  # its event comes after the stale one
    wait_for(lambda: (bed.outputs / "marker.txt").exists(), 10, "the marker")
    assert read(local) == b"version 2, longer"
    assert engine.problems == []


# Appended to the real agent: every read of its inotify queue ends right after the first half
# of a rename, and the rest comes with the next read, as at the end of a full read buffer.
SPLIT_RENAMES = b"""

_inotify_fds = set()
_real_init = Inotify.__init__


def _init(self, root):
    _real_init(self, root)
    _inotify_fds.add(self.fd)


Inotify.__init__ = _init
_real_read = os.read
_held = []


def _read(fd, size):
    if fd not in _inotify_fds:
        return _real_read(fd, size)
    if _held:
        return _held.pop()
    data = _real_read(fd, size)
    offset = 0
    while offset < len(data):
        wd, mask, cookie, length = EVENT.unpack_from(data, offset)
        offset += EVENT.size + length
        if mask & IN_MOVED_FROM and offset < len(data):
            _held.append(data[offset:])
            return data[:offset]
    return data


os.read = _read
"""


@pytest.mark.parametrize("split", [False, True], ids=["one-read", "split-across-reads"])
def test_a_rename_on_the_runtime_is_a_local_rename(bed: SyncBed, split: bool) -> None:
    engine = bed.engine(agent_source=agent_source() + SPLIT_RENAMES) if split else bed.engine()
    engine.start()
    wait_for(lambda: str(engine.state) == "idle", 30, "the first pass")
    data = os.urandom(400_000)
    bed.remote_write("run/epoch1.ckpt", data)
    old = bed.outputs / "run" / "epoch1.ckpt"
    wait_for(lambda: read(old) == data, 10, "the checkpoint")
    inode = old.stat().st_ino
    os.link(old, bed.project.parent / "pin")  # the inode stays in use, so it cannot be reused
    (bed.remote_out / "run" / "epoch1.ckpt").rename(bed.remote_out / "run" / "best.ckpt")
    new = bed.outputs / "run" / "best.ckpt"
    wait_for(lambda: new.exists() and not old.exists(), 10, "the local rename")
    assert new.stat().st_ino == inode  # renamed here too, not fetched again
    assert read(new) == data
    assert engine.problems == []


def test_an_overflow_mid_write_rescans_without_pulling_the_half_written_file(
    bed: SyncBed,
) -> None:
    engine = bed.engine(agent_source=agent_source() + OVERFLOW)
    engine.start()
    wait_for(lambda: str(engine.state) == "idle", 30, "the first pass")
    states: list[str] = []
    engine.on_state(lambda s: states.append(str(s)))
    data = os.urandom(300_000)
    local = bed.outputs / "ckpt.bin"
    torn: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            copy = read(local)
            if copy is not None and copy != data:
                torn.append(len(copy))
            time.sleep(0.005)

    sampling = threading.Thread(target=sample, daemon=True)
    sampling.start()
    try:
        path = bed.remote_out / "ckpt.bin"
        with open(path, "wb") as handle:  # its first events are lost to the overflow
            for i in range(3):
                handle.write(data[i * 100_000 : (i + 1) * 100_000])
                handle.flush()
                time.sleep(0.1)
        wait_for(lambda: read(local) == data, 10, "the finished file")
    finally:
        stop.set()
        sampling.join(5)
    assert "scanning" in states  # the overflow was a rescan
    assert torn == [], f"half-written copies seen locally: {torn[:5]}"


def test_a_log_the_job_writes_as_its_stdout_comes_back_while_it_runs(bed: SyncBed) -> None:
    engine = bed.engine()
    engine.start()
    wait_for(lambda: str(engine.state) == "idle", 30, "the first pass")
    log = bed.remote_out / "stdout.log"
    # ``> file``: opened without O_APPEND, but as the job's stdout it is a log.
    job = spawn_as(
        bed.rt.username,
        ["sh", "-c", f"for i in $(seq 1 40); do echo line $i; sleep 0.1; done > {log}"],
    )
    try:
        local = bed.outputs / "stdout.log"
        wait_for(lambda: (read(local) or b"").count(b"\n") >= 5, 10, "the first lines")
        assert job.poll() is None, "the log arrived only once the job had ended"
        assert (read(local) or b"").startswith(b"line 1\nline 2\n")
        assert job.wait(10) == 0
        expected = b"".join(b"line %d\n" % i for i in range(1, 41))
        wait_for(lambda: read(local) == expected, 10, "the whole log")
    finally:
        if job.poll() is None:
            job.kill()
        job.wait()
    assert engine.problems == []


# Appended to the real agent: the change event for gone.txt is held back and delivered in one
# write with the removal that follows it, as a busy link delivers both at once.
HELD = b"""

_real_send = Output.send
_held = []


def _send_holding(self, header, body=b""):
    names = [e[0] for e in header.get("entries", [])] + header.get("paths", [])
    if header.get("op") == "changed" and names == ["gone.txt"]:
        _held.append((header, bytes(body)))
        return
    if header.get("op") == "removed" and "gone.txt" in names and _held:
        frames = [_held.pop(), (header, b"")]
        with self.lock:
            for head, data in frames:
                raw = json.dumps(head, separators=(",", ":")).encode()
                self._write(FRAME_HEADER.pack(len(raw), len(data)) + raw + data)
        return
    _real_send(self, header, body)


Output.send = _send_holding
"""


def test_a_file_removed_before_it_was_pulled_is_not_pulled(bed: SyncBed) -> None:
    engine = bed.engine(agent_source=agent_source() + HELD)
    engine.start()
    wait_for(lambda: str(engine.state) == "idle", 30, "the first pass")
    bed.remote_write("gone.txt", b"short-lived")
    time.sleep(0.3)  # reported (and held) before it goes
    (bed.remote_out / "gone.txt").unlink()
    bed.remote_write("after.txt", b"marker")
    wait_for(lambda: (bed.outputs / "after.txt").exists(), 10, "the marker")
    assert not (bed.outputs / "gone.txt").exists()
    assert engine.problems == []
