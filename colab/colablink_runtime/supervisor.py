"""Runs on the runtime: starts commands and keeps them, and their output, when the link drops.

Started by a front (``supervisor_front.py``, sshd's child for one channel) in its own session, so
it is no child of sshd and outlives every connection; fronts relay their channel to its unix
socket ``<folder>/supervisor.sock``. Standard library only, Python 3.8 compatible. It stays up
``idle_s`` after the last run and front are gone (minutes: a warm client never waits for a fresh
start), and leaves at once when its folder is removed.

What it keeps lives in its memory first: the hot path writes nothing but a run's output. The
index ``runs.json`` (per run: command, cwd, start and end time, state, exit code) is written at
most every ``FLUSH_S`` when something changed, and when it exits. A run's output goes as records
(stream byte, length, data) to segment files ``<id>.out.<offset>``, made on its first byte; when
it passes ``output_cap`` the oldest segment goes and a reader is told how many bytes it missed.
Finished runs are pruned by age, by count and by their total output size.

Frames both ways: kind (1 byte), tag (4, chosen by the client per request), length (4), payload.
In: ``R`` start (JSON: argv or line, cwd, env, command, attach, stdin, key: the same key again
finds the run it started), ``T`` attach (JSON: id,
from, now), ``I``/``C`` stdin bytes / close stdin of the tag's run, ``S`` signal the tag's run's
process group, ``K`` signal a run by id (JSON: id, signal), ``L`` list runs. Out: ``!`` ready,
``N`` run id, ``O``/``E`` output (8-byte offset after it, then data), ``D`` bytes skipped (decimal),
``X`` exit code (128+n for signal n), ``Z`` end of the output so far (an attach with ``now``),
``J`` JSON answer, ``F`` failure (one sentence).
"""

from __future__ import annotations

# Plain os calls: this program must stay small and 3.8-compatible, with no pathlib objects.
# ruff: noqa: PTH105, PTH108, PTH112, PTH116, PTH118, PTH202, PTH208
import contextlib
import fcntl
import json
import os
import pwd
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from typing import IO, Any

HEADER = struct.Struct(">BII")
RECORD = struct.Struct(">BI")
OFFSET = struct.Struct(">Q")
READ = 1 << 16
# Under the remote root; the local side reads it from here (and the sync leaves it alone).
STATE_FOLDER = ".colablink"
RUNS_FOLDER = STATE_FOLDER + "/runs"
SOCKET_NAME = "supervisor.sock"
LOCK_NAME = "supervisor.lock"
INDEX_NAME = "runs.json"
SEGMENT = re.compile(r"([0-9a-f]{6,32})\.out\.([0-9]+)")
FLUSH_S = 0.5
# While idle, how often it checks that its socket is still its own (the folder not removed).
CHECK_S = 2.0
REAP_POLL_S = 0.05
# Less free space than this and a run is refused: it could record nothing.
MIN_FREE = 16 << 10
# A subscriber is fed from the files while its socket takes less than this.
OUTBOX_HIGH = 1 << 18
LIMITS = {
    "output_cap": 64 << 20,  # bytes of output kept per run
    "max_age_s": 7 * 24 * 3600,  # finished runs older than this go
    "max_finished": 200,  # at most this many finished runs are kept
    "max_total": 512 << 20,  # nor more than this much output over all finished runs
    "idle_s": 600,  # with no run and no front, it exits after this
}


def frame(kind: bytes, tag: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind[0], tag, len(payload)) + payload


def write_json(path: str, data: object) -> None:
    temp = path + ".tmp"
    with open(temp, "w") as out:
        json.dump(data, out)
    os.replace(temp, path)


class Log:
    """A run's output: records in segment files named by the offset of their first byte."""

    def __init__(self, prefix: str, cap: int, segments: list[int], end: int) -> None:
        self.prefix = prefix
        self.segment_size = max(cap // 4, 1)
        self.cap = cap
        self.segments = segments
        self.end = end
        self.writer: IO[bytes] | None = None
        self.reader: tuple[int, IO[bytes]] | None = None

    def path(self, start: int) -> str:
        return f"{self.prefix}{start}"

    @property
    def start(self) -> int:
        return self.segments[0] if self.segments else self.end

    def append(self, stream: int, data: bytes) -> None:
        if not self.segments or self.end - self.segments[-1] >= self.segment_size:
            self.close_writer()
            self.segments.append(self.end)
            while len(self.segments) > 1 and self.end - self.segments[0] > self.cap:
                self.drop_oldest()
        if self.writer is None:
            self.writer = open(self.path(self.segments[-1]), "ab", buffering=0)  # noqa: SIM115 (kept open)
        self.writer.write(RECORD.pack(stream, len(data)) + data)
        self.end += RECORD.size + len(data)

    def drop_oldest(self) -> None:
        start = self.segments.pop(0)
        if self.reader is not None and self.reader[0] == start:
            self.reader[1].close()
            self.reader = None
        with contextlib.suppress(OSError):
            os.unlink(self.path(start))

    def read(self, pos: int) -> tuple[int, bytes, int]:
        """The record at ``pos``: (stream, data, next offset)."""
        start = max(s for s in self.segments if s <= pos)
        if self.reader is None or self.reader[0] != start:
            if self.reader is not None:
                self.reader[1].close()
            self.reader = (start, open(self.path(start), "rb"))  # noqa: SIM115 (kept open)
        handle = self.reader[1]
        handle.seek(pos - start)
        head = handle.read(RECORD.size)
        stream, length = RECORD.unpack(head)
        return stream, handle.read(length), pos + RECORD.size + length

    def close_writer(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def close(self) -> None:
        self.close_writer()
        if self.reader is not None:
            self.reader[1].close()
            self.reader = None

    def remove(self) -> None:
        self.close()
        for start in self.segments:
            with contextlib.suppress(OSError):
                os.unlink(self.path(start))
        self.segments.clear()


class Run:
    def __init__(self, meta: dict[str, Any], log: Log) -> None:
        self.meta = meta
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.fds: dict[int, int] = {}  # output fd → stream byte
        self.pending_input = bytearray()
        self.close_input = False
        self.key = ""  # the client's, so that a start asked again finds this run

    @property
    def running(self) -> bool:
        return bool(self.meta["state"] == "running")


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbox = bytearray()
        self.outbox = bytearray()
        self.tags: dict[int, Run] = {}
        self.following: dict[int, int] = {}  # tag → next offset to send
        self.stop_at: dict[int, int] = {}  # tag → where "the output so far" ends


class Supervisor:
    def __init__(self, folder: str, limits: dict[str, Any]) -> None:
        self.folder = folder
        self.limits = {**LIMITS, **limits}
        self.shell = pwd.getpwuid(os.getuid()).pw_shell or "/bin/sh"
        self.runs: dict[str, Run] = {}
        self.by_key: dict[str, Run] = {}
        self.live: set[Run] = set()  # runs whose process has not been reaped
        self.by_fd: dict[int, Run] = {}
        self.clients: dict[int, Client] = {}
        self.reaping: list[Run] = []
        self.flush_due: float | None = None
        self.load()

    # -- state on disk ----------------------------------------------------------------------

    def log_for(self, rid: str, segments: list[int] | None = None) -> Log:
        segments = sorted(segments or [])
        end = 0
        prefix = os.path.join(self.folder, f"{rid}.out.")
        if segments:
            with contextlib.suppress(OSError):
                end = segments[-1] + os.path.getsize(f"{prefix}{segments[-1]}")
        return Log(prefix, self.limits["output_cap"], segments, end)

    def load(self) -> None:
        segments: dict[str, list[int]] = {}
        for name in os.listdir(self.folder):
            match = SEGMENT.fullmatch(name)
            if match:
                segments.setdefault(match.group(1), []).append(int(match.group(2)))
        try:
            with open(os.path.join(self.folder, INDEX_NAME)) as handle:
                metas = json.load(handle)
        except (OSError, ValueError):
            metas = []
        for meta in metas if isinstance(metas, list) else []:
            rid = meta.get("id") if isinstance(meta, dict) else None
            if not isinstance(rid, str) or not re.fullmatch(r"[0-9a-f]{6,32}", rid):
                continue
            if meta.get("state") == "running":
                # Its supervisor died: the output stopped being recorded and no code will come.
                meta.update(state="lost", ended=time.time())
            self.runs[rid] = Run(meta, self.log_for(rid, segments.pop(rid, None)))
        for rid, starts in segments.items():  # output of runs the index never heard of
            self.log_for(rid, starts).remove()
        self.changed()

    def changed(self) -> None:
        if self.flush_due is None:
            self.flush_due = time.monotonic() + FLUSH_S

    def flush(self) -> None:
        self.flush_due = None
        self.prune()
        try:
            write_json(os.path.join(self.folder, INDEX_NAME), [r.meta for r in self.runs.values()])
        except OSError:
            self.flush_due = time.monotonic() + 10 * FLUSH_S  # a full disk: try again later

    def prune(self) -> None:
        finished = sorted(
            (run for run in self.runs.values() if not run.running),
            key=lambda run: run.meta["started"],
            reverse=True,
        )
        now = time.time()
        total = 0
        for index, run in enumerate(finished):
            total += run.log.end - run.log.start
            if (
                index >= self.limits["max_finished"]
                or now - (run.meta.get("ended") or now) > self.limits["max_age_s"]
                or total > self.limits["max_total"]
            ):
                self.forget(run)

    def forget(self, run: Run) -> None:
        if any(run in client.tags.values() for client in self.clients.values()):
            return  # someone is still reading it
        run.log.remove()
        del self.runs[run.meta["id"]]
        self.by_key.pop(run.key, None)

    # -- runs -------------------------------------------------------------------------------

    def start(self, client: Client, tag: int, request: dict[str, Any]) -> None:
        key = request.get("key")
        known = self.by_key.get(key) if isinstance(key, str) else None
        if known is not None:
            # Asked again after a drop that lost our answer: the same run, from its first byte.
            client.tags[tag] = known
            self.send(client, b"N", tag, known.meta["id"].encode())
            if request.get("attach"):
                client.following[tag] = 0
            return
        try:
            space = os.statvfs(self.folder)
            free = space.f_bavail * space.f_frsize
        except OSError:
            free = MIN_FREE
        if free < MIN_FREE:
            self.send(client, b"F", tag, b"Cannot record the run: the runtime's disk is full.")
            return
        rid = f"{int(time.time()):x}{os.urandom(3).hex()}"
        meta = {
            "id": rid,
            "command": str(request.get("command", "")),
            "cwd": request.get("cwd"),
            "started": time.time(),
            "ended": None,
            "state": "running",
            "exit_code": None,
        }
        run = Run(meta, self.log_for(rid))
        self.runs[rid] = run
        if isinstance(key, str):
            run.key = key
            self.by_key[key] = run
        self.changed()
        client.tags[tag] = run
        self.send(client, b"N", tag, rid.encode())
        if request.get("attach"):
            client.following[tag] = 0
        line = request.get("line")
        argv = [self.shell, "-c", line] if line is not None else request["argv"]
        cwd = request.get("cwd")
        executable = argv[0] if "/" in argv[0] else shutil.which(argv[0])
        try:
            if executable is None:
                raise FileNotFoundError(2, "not found")
            run.proc = subprocess.Popen(
                argv,
                executable=executable,
                cwd=cwd,
                env={**os.environ, **request.get("env", {})},
                stdin=subprocess.PIPE if request.get("stdin", True) else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, so a signal reaches all of it
            )
        except OSError as exc:
            # The codes a shell gives: 127 not found, 126 not executable, 1 for a bad cwd.
            if cwd is not None and not os.path.isdir(cwd):
                code, why = 1, f"cd: {cwd}: {exc.strerror}"
            elif isinstance(exc, FileNotFoundError):
                code, why = 127, f"{argv[0]}: not found"
            else:
                code, why = 126, f"{argv[0]}: {exc.strerror}"
            self.record(run, ord("E"), f"{why}\n".encode())
            self.finish(run, code)
            return
        self.live.add(run)
        for stream, kind in ((run.proc.stdout, "O"), (run.proc.stderr, "E")):
            assert stream is not None
            run.fds[stream.fileno()] = ord(kind)
            self.by_fd[stream.fileno()] = run
        if run.proc.stdin is not None:
            os.set_blocking(run.proc.stdin.fileno(), False)

    def record(self, run: Run, stream: int, data: bytes) -> None:
        # No record bigger than a segment, cut after a line where one ends: the cap then drops
        # whole segments of a fast writer's output too, and a reader's tail starts on a line.
        limit = run.log.segment_size
        while len(data) > limit:
            cut = data.rfind(b"\n", 0, limit) + 1 or limit
            self.record_piece(run, stream, data[:cut])
            data = data[cut:]
        self.record_piece(run, stream, data)

    def record_piece(self, run: Run, stream: int, data: bytes) -> None:
        before = run.log.end
        try:
            run.log.append(stream, data)
        except OSError:
            # A full disk: the run goes on; what could not be written is lost.
            run.log.close_writer()
            return
        # Followers at the end get it now, not read back from the file on the next turn.
        after = run.log.end
        chunk = bytes([stream])
        for client in self.clients.values():
            for tag, pos in client.following.items():
                if pos == before and client.tags[tag] is run and len(client.outbox) < OUTBOX_HIGH:
                    self.send(client, chunk, tag, OFFSET.pack(after) + data)
                    client.following[tag] = after

    def finish(self, run: Run, code: int) -> None:
        run.log.close_writer()
        run.meta.update(state="exited", exit_code=code, ended=time.time())
        self.live.discard(run)
        self.changed()

    def read_output(self, fd: int) -> None:
        run = self.by_fd[fd]
        data = os.read(fd, READ)
        if data:
            self.record(run, run.fds[fd], data)
            return
        del run.fds[fd]
        del self.by_fd[fd]
        if not run.fds:
            self.reaping.append(run)

    def reap(self) -> None:
        for run in list(self.reaping):
            assert run.proc is not None
            code = run.proc.poll()
            if code is None:
                continue
            self.reaping.remove(run)
            for stream in (run.proc.stdin, run.proc.stdout, run.proc.stderr):
                if stream is not None and not stream.closed:
                    stream.close()
            self.finish(run, 128 - code if code < 0 else code)

    def signal(self, run: Run, name: str) -> None:
        number = getattr(signal, "SIG" + name, None)
        if run.proc is not None and run.running and isinstance(number, int):
            with contextlib.suppress(OSError):
                os.killpg(run.proc.pid, number)

    def feed(self, run: Run) -> None:
        stdin = run.proc.stdin if run.proc is not None else None
        if stdin is None or stdin.closed:
            return
        try:
            if run.pending_input:
                written = os.write(stdin.fileno(), run.pending_input)
                del run.pending_input[:written]
            if run.close_input and not run.pending_input:
                stdin.close()
        except BlockingIOError:
            pass
        except OSError:
            # The command stopped reading (exited or closed its input), as a broken pipe.
            run.pending_input.clear()
            stdin.close()

    # -- clients ----------------------------------------------------------------------------

    def send(self, client: Client, kind: bytes, tag: int, payload: bytes = b"") -> None:
        client.outbox += frame(kind, tag, payload)

    def handle(self, client: Client, kind: int, tag: int, payload: bytes) -> None:
        if kind == ord("R"):
            self.start(client, tag, json.loads(payload))
        elif kind == ord("T"):
            request = json.loads(payload)
            run = self.runs.get(str(request.get("id")))
            if run is None:
                self.send(client, b"F", tag, b"No such run on the runtime.")
                return
            client.tags[tag] = run
            client.following[tag] = max(0, int(request.get("from", 0)))
            if request.get("now"):
                client.stop_at[tag] = run.log.end
        elif kind == ord("L"):
            self.prune()
            listing = [run.meta for run in self.runs.values()]
            self.send(client, b"J", tag, json.dumps(listing).encode())
        elif kind == ord("K"):
            request = json.loads(payload)
            run = self.runs.get(str(request.get("id")))
            if run is not None:
                self.signal(run, str(request.get("signal", "TERM")))
            answer = {"found": run is not None, "running": run is not None and run.running}
            self.send(client, b"J", tag, json.dumps(answer).encode())
        else:
            run = client.tags.get(tag)
            if run is None:
                return
            if kind == ord("I"):
                run.pending_input += payload
            elif kind == ord("C"):
                run.close_input = True
            elif kind == ord("S"):
                self.signal(run, payload.decode("ascii", "replace"))
            self.feed(run)

    def pump(self, client: Client) -> None:
        """Feed each followed run's output from its files, then its exit code."""
        for tag, pos in list(client.following.items()):
            run = client.tags[tag]
            log = run.log
            if pos < log.start:
                self.send(client, b"D", tag, str(log.start - pos).encode())
                pos = log.start
            while pos < log.end and len(client.outbox) < OUTBOX_HIGH:
                stream, data, pos = log.read(pos)
                self.send(client, bytes([stream]), tag, OFFSET.pack(pos) + data)
            client.following[tag] = pos
            if pos >= log.end and not run.running:
                self.unfollow(client, tag)
                self.send(client, b"X", tag, str(run.meta["exit_code"]).encode())
            elif pos >= client.stop_at.get(tag, log.end + 1):
                self.unfollow(client, tag)
                self.send(client, b"Z", tag)

    def unfollow(self, client: Client, tag: int) -> None:
        del client.following[tag]
        del client.tags[tag]
        client.stop_at.pop(tag, None)

    def take_frames(self, client: Client) -> None:
        while len(client.inbox) >= HEADER.size:
            kind, tag, length = HEADER.unpack_from(client.inbox)
            end = HEADER.size + length
            if len(client.inbox) < end:
                return
            payload = bytes(client.inbox[HEADER.size : end])
            del client.inbox[:end]
            try:
                self.handle(client, kind, tag, payload)
            except (ValueError, KeyError, TypeError, IndexError):
                self.send(client, b"F", tag, b"The supervisor could not read the request.")

    def drop(self, client: Client) -> None:
        del self.clients[client.sock.fileno()]
        client.sock.close()

    def accept(self, listener: socket.socket) -> None:
        sock, _ = listener.accept()
        # Never blocks on a front: one that is itself sending to us would deadlock.
        sock.setblocking(False)
        client = Client(sock)
        self.clients[sock.fileno()] = client
        self.send(client, b"!", 0, b"1")

    def receive(self, client: Client) -> None:
        try:
            data = client.sock.recv(READ)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.drop(client)
            return
        client.inbox += data
        self.take_frames(client)

    def write(self, fd: int) -> None:
        writer = self.clients.get(fd)
        if writer is not None:
            try:
                sent = writer.sock.send(writer.outbox)
                del writer.outbox[:sent]
            except BlockingIOError:
                pass
            except OSError:
                self.drop(writer)
            return
        for run in self.live:
            stdin = run.proc.stdin if run.proc is not None else None
            if stdin is not None and not stdin.closed and stdin.fileno() == fd:
                self.feed(run)
                return

    def serve(self, listener: socket.socket, still_ours: Any) -> None:
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        idle_since = time.monotonic()
        checked = idle_since
        while True:
            for client in list(self.clients.values()):
                self.pump(client)
            now = time.monotonic()
            if self.flush_due is not None and now >= self.flush_due:
                self.flush()
            busy = bool(self.clients or self.live)
            if busy:
                idle_since = now
            elif now - idle_since >= self.limits["idle_s"]:
                return
            elif now - checked >= CHECK_S:
                checked = now
                if not still_ours():
                    return  # the folder went: nothing left to keep
            writers = [
                run.proc.stdin.fileno()
                for run in self.live
                if run.proc is not None
                and run.proc.stdin is not None
                and not run.proc.stdin.closed
                and (run.pending_input or run.close_input)
            ]
            writers += [fd for fd, client in self.clients.items() if client.outbox]
            timeout = None if busy else CHECK_S
            if self.reaping:
                timeout = REAP_POLL_S
            if self.flush_due is not None:
                wait = max(self.flush_due - now, 0.0)
                timeout = wait if timeout is None else min(timeout, wait)
            readable, writable, _ = select.select(
                [listener.fileno(), wake_read, *self.by_fd, *self.clients], writers, [], timeout
            )
            for fd in readable:
                if fd == wake_read:
                    os.read(wake_read, 512)
                elif fd == listener.fileno():
                    self.accept(listener)
                elif fd in self.by_fd:
                    self.read_output(fd)
                elif fd in self.clients:
                    self.receive(self.clients[fd])
            for fd in writable:
                self.write(fd)
            self.reap()


def runs_in_progress(folder: str, timeout: float = 2.0) -> int:
    """How many runs under ``folder`` are still going, asked of its supervisor (for the
    keep-alive, which must not let Colab reclaim a machine with work on it); 0 when none
    answers, since runs go only under a supervisor."""
    path = os.path.join(folder, SOCKET_NAME)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            sock.sendall(frame(b"L", 1))
            with sock.makefile("rb") as answers:
                while True:
                    head = answers.read(HEADER.size)
                    if len(head) < HEADER.size:
                        return 0
                    kind, _, length = HEADER.unpack(head)
                    payload = answers.read(length)
                    if kind == ord("J"):
                        listing = json.loads(payload)
                        return sum(1 for meta in listing if meta.get("state") == "running")
        except (OSError, ValueError, AttributeError, TypeError):
            return 0


def supervise(folder: str, limits: dict[str, Any]) -> None:
    os.chdir(folder)
    lock = open(LOCK_NAME, "w")  # noqa: SIM115 (held until exit)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another supervisor serves this folder
    with contextlib.suppress(FileNotFoundError):
        os.unlink(SOCKET_NAME)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(SOCKET_NAME)
    listener.listen(64)
    mine = os.stat(SOCKET_NAME).st_ino

    def still_ours() -> bool:
        try:
            return os.stat(SOCKET_NAME).st_ino == mine
        except OSError:
            return False

    # Ended by the runtime's teardown: what it keeps is written first.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    supervisor = Supervisor(folder, limits)
    try:
        supervisor.serve(listener, still_ours)
    finally:
        if still_ours():
            supervisor.flush()
            # Gone from the folder before the lock is released, so a front starts the next one.
            with contextlib.suppress(OSError):
                os.unlink(SOCKET_NAME)
        listener.close()


def main() -> None:
    if sys.argv[1:2] == ["--supervise"]:
        supervise(sys.argv[2], json.loads(sys.argv[3]))


if __name__ == "__main__":
    main()
