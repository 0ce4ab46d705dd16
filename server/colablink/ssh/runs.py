"""The local end of ``colablink_runtime/supervisor.py``: runs that outlive the link.

``SupervisorLink`` is one channel to the supervisor (many runs at once, one message each way per
run); ``follow`` runs a command to its end through links it gets from a factory, re-attaching from
the last byte received whenever a link drops, so a drop is never an interrupt. Everything the
runtime sends is checked: run ids, offsets, lengths, JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import colablink_runtime
import paramiko
from colablink_runtime.supervisor import RUNS_FOLDER

from colablink.errors import ColabLinkError, RemoteError, Unreachable
from colablink.ssh import remote_exec
from colablink.ssh.bootstrap import FRONT_BOOTSTRAP, framed_source
from colablink.ssh.session import ConnectionLost, Session, send_all, signal_exit_code

HEADER = struct.Struct(">BII")
OFFSET = struct.Struct(">Q")
CHUNK = 1 << 16
MAX_FRAME = 1 << 24
START_TIMEOUT_S = 15.0
ANSWER_TIMEOUT_S = 15.0
# After the KILL, stop waiting for an exit code a wedged process may never produce.
GIVE_UP_S = 3.0
# Re-attach after a drop: first try at once, then back off up to this, for at most RECONNECT_FOR_S.
BACKOFF_MAX_S = 5.0
RECONNECT_FOR_S = 600.0
RUN_ID = re.compile(r"[0-9a-f]{6,32}")
# Read, not imported: they are programs for the runtime, not modules of this side.
_HERE = Path(colablink_runtime.__file__).parent
FRONT_SOURCE = (_HERE / "supervisor_front.py").read_bytes()
SOURCE = (_HERE / "supervisor.py").read_bytes()
# What every link sends first: the front, the supervisor it may have to start, then the config.
_PREAMBLE = framed_source(FRONT_SOURCE) + framed_source(SOURCE)
# The shell's answer when there is no python3 to run the front.
NOT_FOUND = 127

OnOutput = Callable[[bytes], object]
Connect = Callable[[], "SupervisorLink"]


@dataclass(frozen=True)
class RunInfo:
    """One run as the supervisor keeps it."""

    id: str
    command: str
    state: str  # running, exited, lost (its supervisor died)
    started: float
    ended: float | None
    exit_code: int | None

    @classmethod
    def parse(cls, data: Any) -> RunInfo:
        """From the runtime's JSON, which is not trusted."""
        if not isinstance(data, dict):
            raise RemoteError("The runtime sent a malformed run.")
        run_id, state = data.get("id"), data.get("state")
        started, ended, code = data.get("started"), data.get("ended"), data.get("exit_code")
        if not (
            isinstance(run_id, str)
            and RUN_ID.fullmatch(run_id)
            and state in ("running", "exited", "lost")
            and isinstance(started, int | float)
            and (ended is None or isinstance(ended, int | float))
            and (code is None or (isinstance(code, int) and 0 <= code < 256))
        ):
            raise RemoteError("The runtime sent a malformed run.")
        command = data.get("command")
        return cls(
            run_id,
            command if isinstance(command, str) else "",
            str(state),
            float(started),
            None if ended is None else float(ended),
            code,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "command": self.command,
            "state": self.state,
            "started": self.started,
            "ended": self.ended,
            "exit_code": self.exit_code,
        }


class NoSupervisor(ColabLinkError):
    """The runtime cannot run the supervisor (no python3): commands take plain channels."""


def check_run_id(run_id: str) -> str:
    if not RUN_ID.fullmatch(run_id):
        raise ColabLinkError(f"{run_id!r} is not a run id; `colablink runs` lists them.")
    return run_id


class _Follower:
    """Where one attached run's output goes, and how far it got."""

    def __init__(self, on_stdout: OnOutput, on_stderr: OnOutput, pos: int) -> None:
        self.on_stdout = on_stdout
        self.on_stderr = on_stderr
        self.on_skipped: Callable[[int], object] = lambda _: None
        self.pos = pos
        self.code: int | None = None
        self.stopped = False  # at the end of the output so far (``until_now``)
        self.failure: str | None = None
        self.done = threading.Event()


class _Pending:
    def __init__(self, follower: _Follower | None) -> None:
        self.follower = follower
        if follower is not None:
            # A fresh event per attach: a dead link's reader must not end the next one's wait.
            follower.done = threading.Event()
        self.done = follower.done if follower is not None else None
        self.answer: bytes | None = None
        self.failure: str | None = None
        self.answered = threading.Event()


class SupervisorLink:
    """Started with ``open(session, remote_root)``; usable from many threads at once."""

    def __init__(self, chan: paramiko.Channel) -> None:
        self._chan = chan
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._next_tag = 1
        self._ready = threading.Event()
        self.alive = True
        # Set when the link ended before the supervisor answered because python3 is missing.
        self.no_python = False
        threading.Thread(target=self._read, name="colablink-supervisor", daemon=True).start()

    @classmethod
    def open(
        cls, session: Session, remote_root: str, limits: Mapping[str, int] | None = None
    ) -> SupervisorLink:
        """Reach (or start) the supervisor of ``remote_root``. Requests may follow at once: the
        front relays them when the supervisor answers, so a cold command costs no round trip
        more; a runtime without python3 fails the first one with ``NoSupervisor``.

        ``limits`` (see the supervisor's ``LIMITS``) apply to a supervisor this call starts."""
        chan = session.open_exec(FRONT_BOOTSTRAP)
        folder = f"{remote_root.rstrip('/')}/{RUNS_FOLDER}"
        config = f"{folder}\t{json.dumps(dict(limits or {}))}\n".encode()
        send_all(chan, _PREAMBLE + config)
        return cls(chan)

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> bool:
        """Whether the supervisor answered (False: no python3 there, or the link dropped)."""
        return self._ready.wait(timeout) and self.alive

    def close(self) -> None:
        self.alive = False
        self._chan.close()

    # -- requests ----------------------------------------------------------------------------

    def _send(self, kind: bytes, tag: int, payload: bytes = b"") -> None:
        with self._send_lock:
            send_all(self._chan, HEADER.pack(kind[0], tag, len(payload)) + payload)

    def _request(self, kind: bytes, payload: dict[str, Any], follower: _Follower | None) -> int:
        with self._lock:
            tag = self._next_tag
            self._next_tag += 1
            self._pending[tag] = _Pending(follower)
        self._send(kind, tag, json.dumps(payload).encode())
        return tag

    def _answer(self, tag: int) -> bytes:
        pending = self._pending[tag]
        pending.answered.wait(ANSWER_TIMEOUT_S)
        if pending.failure is not None:
            self._forget(tag)
            raise ColabLinkError(pending.failure)
        if pending.answer is None:
            self._forget(tag)
            if self.no_python:
                raise NoSupervisor("The runtime has no python3 to run the supervisor.")
            raise ConnectionLost("The link to the runtime dropped; reconnect.")
        return pending.answer

    def _forget(self, tag: int) -> None:
        with self._lock:
            self._pending.pop(tag, None)

    def start(self, request: Mapping[str, Any], follower: _Follower | None) -> tuple[int, str]:
        """Start a run (followed from its first byte when ``follower`` is given): (tag, id)."""
        tag = self._request(b"R", {**request, "attach": follower is not None}, follower)
        run_id = self._answer(tag).decode("ascii", "replace")
        if follower is None:
            self._forget(tag)
        return tag, check_run_id(run_id)

    def attach(self, run_id: str, follower: _Follower, *, until_now: bool = False) -> int:
        request = {"id": run_id, "from": follower.pos, "now": until_now}
        return self._request(b"T", request, follower)

    def list(self) -> list[RunInfo]:
        tag = self._request(b"L", {}, None)
        try:
            data = json.loads(self._answer(tag))
        except ValueError:
            raise RemoteError("The runtime sent a malformed list of runs.") from None
        finally:
            self._forget(tag)
        if not isinstance(data, list):
            raise RemoteError("The runtime sent a malformed list of runs.")
        return sorted((RunInfo.parse(item) for item in data), key=lambda run: run.started)

    def kill(self, run_id: str, signal_name: str) -> bool:
        """Signal a run's process group by id; whether it was running."""
        tag = self._request(b"K", {"id": check_run_id(run_id), "signal": signal_name}, None)
        try:
            answer = json.loads(self._answer(tag))
        except ValueError:
            raise RemoteError("The runtime sent a malformed answer.") from None
        finally:
            self._forget(tag)
        if not isinstance(answer, dict) or not answer.get("found"):
            raise ColabLinkError(f"No run {run_id} on the runtime; `colablink runs` lists them.")
        return bool(answer.get("running"))

    def signal(self, tag: int, name: str) -> None:
        self._send(b"S", tag, name.encode("ascii"))

    def send_input(self, tag: int, data: bytes) -> None:
        self._send(b"I", tag, data)

    def close_input(self, tag: int) -> None:
        self._send(b"C", tag)

    def release(self, tag: int) -> None:
        self._forget(tag)

    # -- the reader --------------------------------------------------------------------------

    def _read(self) -> None:
        buffer = bytearray()
        try:
            while True:
                data = self._chan.recv(CHUNK)
                if not data:
                    break
                buffer += data
                while len(buffer) >= HEADER.size:
                    kind, tag, length = HEADER.unpack_from(buffer)
                    if length > MAX_FRAME:
                        raise RemoteError("The runtime sent an oversized frame.")
                    end = HEADER.size + length
                    if len(buffer) < end:
                        break
                    payload = bytes(buffer[HEADER.size : end])
                    del buffer[:end]
                    self._dispatch(kind, tag, payload)
        except (OSError, EOFError, ValueError, paramiko.SSHException, ColabLinkError):
            pass
        finally:
            if not self._ready.is_set():
                with contextlib.suppress(paramiko.SSHException, OSError):
                    self.no_python = self._chan.recv_exit_status() == NOT_FOUND
            self.alive = False
            self._ready.set()
            with self._lock:
                pending = list(self._pending.values())
            for one in pending:
                one.answered.set()
                if one.done is not None:
                    one.done.set()

    def _dispatch(self, kind: int, tag: int, payload: bytes) -> None:
        if kind == ord("!"):
            self._ready.set()
            return
        with self._lock:
            pending = self._pending.get(tag)
        if pending is None:
            return
        follower = pending.follower
        if kind in (ord("N"), ord("J")):
            pending.answer = payload
            pending.answered.set()
        elif kind == ord("F"):
            pending.failure = payload.decode("utf-8", "replace")[:300]
            pending.answered.set()
            if follower is not None:
                follower.failure = pending.failure
                follower.done.set()
        elif follower is None:
            return
        elif kind in (ord("O"), ord("E")) and len(payload) >= OFFSET.size:
            (after,) = OFFSET.unpack_from(payload)
            data = payload[OFFSET.size :]
            if after <= follower.pos:
                return  # already seen: a hostile or confused runtime gets no duplicate through
            follower.pos = after
            (follower.on_stdout if kind == ord("O") else follower.on_stderr)(data)
        elif kind == ord("D") and payload.isdigit():
            follower.pos += int(payload)
            follower.on_skipped(int(payload))
        elif kind == ord("Z"):
            follower.stopped = True
            follower.done.set()
        elif kind == ord("X") and payload.isdigit():
            follower.code = min(int(payload), 255)
            follower.done.set()


def follow(
    connect: Connect,
    request: Mapping[str, Any],
    *,
    on_stdout: OnOutput,
    on_stderr: OnOutput,
    stdin: bytes | IO[bytes] | None = None,
    cancel: threading.Event | None = None,
    detach: threading.Event | None = None,
    on_notice: Callable[[str], object] | None = None,
    run_id: str | None = None,
    from_pos: int = 0,
    until_now: bool = False,
    reached: Callable[[int], object] | None = None,
) -> int | None:
    """Run ``request`` (or follow ``run_id`` from ``from_pos``) to its end; return its exit code,
    or None where ``until_now`` stopped at the output so far of a run still going. ``reached``
    hears the position the output got to, where a later attach carries on without a repeat.

    A dropped link is re-dialed through ``connect`` with backoff and the run re-attached from the
    last byte received. ``cancel`` interrupts the run (INT, then KILL); ``detach`` stops following
    and leaves it running (raises ``Detached``).
    """
    notice = on_notice or (lambda _: None)
    follower = _Follower(on_stdout, on_stderr, from_pos)
    follower.on_skipped = lambda n: notice(f"{n} bytes of the run's oldest output were dropped")
    link = connect()
    if run_id is None:
        # The key makes a repeated start find the run: the link may drop before its id arrives.
        started = {**request, "stdin": stdin is not None, "key": os.urandom(8).hex()}
        try:
            tag, run_id = link.start(started, follower)
        except ConnectionLost:
            link, (tag, run_id) = _redial(
                connect, lambda again: again.start(started, follower), None, cancel, notice, detach
            )
        if stdin is not None:
            threading.Thread(
                target=_pump, args=(link, tag, stdin, follower), name="colablink-stdin", daemon=True
            ).start()
    else:
        tag = link.attach(check_run_id(run_id), follower, until_now=until_now)
    assert run_id is not None
    code = _to_the_end(connect, link, tag, run_id, follower, cancel, detach, notice, until_now)
    if reached is not None:
        reached(follower.pos)
    return code


def _to_the_end(
    connect: Connect,
    link: SupervisorLink,
    tag: int,
    run_id: str,
    follower: _Follower,
    cancel: threading.Event | None,
    detach: threading.Event | None,
    notice: Callable[[str], object],
    until_now: bool,
) -> int | None:
    def again(fresh: SupervisorLink) -> int:
        return fresh.attach(run_id, follower, until_now=until_now)

    while True:
        code = _wait(link, tag, follower, cancel, detach)
        link.release(tag)
        if code is not None or follower.stopped:
            return code
        if follower.failure is not None:
            raise ColabLinkError(follower.failure)
        if detach is not None and detach.is_set():
            raise Detached(run_id)
        # The link dropped: the run goes on; come back to it.
        link, tag = _redial(connect, again, run_id, cancel, notice, detach)
        if cancel is not None and cancel.is_set():
            link.signal(tag, "INT")


class Detached(ColabLinkError):
    """The caller stopped following; the run goes on."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"Run {run_id} goes on; `colablink attach {run_id}` follows it again.")
        self.run_id = run_id


T = TypeVar("T")


def _redial(
    connect: Connect,
    attempt: Callable[[SupervisorLink], T],
    run_id: str | None,
    cancel: threading.Event | None,
    notice: Callable[[str], object],
    detach: threading.Event | None = None,
) -> tuple[SupervisorLink, T]:
    """Dial again with backoff until ``attempt`` succeeds on a fresh link."""
    notice("link lost; reconnecting…")
    lost_at = time.monotonic()
    name = run_id or "(its id never arrived)"
    delay = 0.0
    while True:
        if cancel is not None and cancel.is_set() and delay > 0:
            raise ConnectionLost(
                f"The link is down; run {name} goes on: `colablink kill {name}` ends it."
            )
        if time.monotonic() - lost_at > RECONNECT_FOR_S:
            raise ConnectionLost(
                f"The runtime stayed out of reach; run {name} goes on: "
                f"`colablink attach {name}` when it is back."
            )
        if detach is None:
            time.sleep(delay)
        elif detach.wait(delay):
            raise Detached(name)
        try:
            link = connect()
            result = attempt(link)
        except (Unreachable, OSError, EOFError, paramiko.SSHException):
            delay = min(max(delay * 2, 0.2), BACKOFF_MAX_S)
            continue
        notice("reconnected")
        return link, result


def _wait(
    link: SupervisorLink,
    tag: int,
    follower: _Follower,
    cancel: threading.Event | None,
    detach: threading.Event | None,
) -> int | None:
    """The exit code, or None when the link dropped (or ``detach`` was set) first."""
    interrupted_at: float | None = None
    killed = False
    polling = cancel is not None or detach is not None
    while not follower.done.wait(0.05 if polling else None):
        if not link.alive or (detach is not None and detach.is_set()):
            return None
        if cancel is None or not cancel.is_set():
            continue
        now = time.monotonic()
        try:
            if interrupted_at is None:
                interrupted_at = now
                link.signal(tag, "INT")
            elif not killed and now - interrupted_at >= remote_exec.INTERRUPT_GRACE_S:
                killed = True
                link.signal(tag, "KILL")
            elif now - interrupted_at >= remote_exec.INTERRUPT_GRACE_S + GIVE_UP_S:
                return signal_exit_code("INT")
        except ConnectionLost:
            return None
    return follower.code


def _pump(link: SupervisorLink, tag: int, stdin: bytes | IO[bytes], follower: _Follower) -> None:
    try:
        if isinstance(stdin, bytes | bytearray | memoryview):
            view = memoryview(stdin)
            for start in range(0, len(view), CHUNK):
                link.send_input(tag, bytes(view[start : start + CHUNK]))
        else:
            read = getattr(stdin, "read1", stdin.read)
            while not follower.done.is_set() and (chunk := read(CHUNK)):
                link.send_input(tag, chunk)
        link.close_input(tag)
    except (OSError, EOFError, ConnectionLost, paramiko.SSHException):
        pass
