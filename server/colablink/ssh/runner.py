"""The local end of ``colablink_runtime/runner.py``: run commands over one long-lived channel.

A connection that lives long (the daemon's, ``LocalClient``'s) starts the runner once; each
command then costs one frame each way instead of a new SSH channel and an sshd session set-up.
Semantics match ``remote_exec.stream``: the same command line, output streamed per stream,
piped stdin, 128+n for a signal, and cancel = INT to the process group, then KILL.
"""

from __future__ import annotations

import json
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import colablink_runtime
import paramiko

from colablink.ssh import remote_exec
from colablink.ssh.bootstrap import BOOTSTRAP, framed_source
from colablink.ssh.session import ConnectionLost, Session, send_all, signal_exit_code

HEADER = struct.Struct(">BII")
CHUNK = 1 << 16
START_TIMEOUT_S = 15.0
# After the KILL, stop waiting for an exit code a wedged process may never produce.
GIVE_UP_S = 3.0
# Read, not imported: it is a program for the runtime, not a module of this side.
SOURCE = (Path(colablink_runtime.__file__).parent / "runner.py").read_bytes()

OnOutput = Callable[[bytes], object]


class _Run:
    def __init__(self, on_stdout: OnOutput, on_stderr: OnOutput) -> None:
        self.on_stdout = on_stdout
        self.on_stderr = on_stderr
        self.done = threading.Event()
        self.code: int | None = None


class RemoteRunner:
    """Started with ``start(session)``; ``run`` may be called from many threads at once."""

    def __init__(self, chan: paramiko.Channel) -> None:
        self._chan = chan
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._runs: dict[int, _Run] = {}
        self._next_id = 1
        self._ready = threading.Event()
        self.alive = True
        self._reader = threading.Thread(target=self._read, name="colablink-runner", daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, session: Session) -> RemoteRunner | None:
        """Start the runner on the runtime; None if it cannot run there (no python3)."""
        chan = session.open_exec(BOOTSTRAP)
        send_all(chan, framed_source(SOURCE))
        runner = cls(chan)
        if runner._ready.wait(START_TIMEOUT_S) and runner.alive:
            return runner
        runner.close()
        return None

    def close(self) -> None:
        self.alive = False
        self._chan.close()

    def _send(self, kind: bytes, rid: int, payload: bytes = b"") -> None:
        with self._send_lock:
            send_all(self._chan, HEADER.pack(kind[0], rid, len(payload)) + payload)

    def run(
        self,
        command_line: str,
        *,
        on_stdout: OnOutput,
        on_stderr: OnOutput,
        stdin: bytes | IO[bytes] | None = None,
        cancel: threading.Event | None = None,
    ) -> int:
        """Run ``command_line`` (as sshd would: the login shell's ``-c``); return its exit code."""
        request = (b"R", command_line.encode("utf-8", "surrogateescape"))
        return self._start(request, on_stdout, on_stderr, stdin, cancel)

    def run_argv(
        self,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        on_stdout: OnOutput,
        on_stderr: OnOutput,
        stdin: bytes | IO[bytes] | None = None,
        cancel: threading.Event | None = None,
    ) -> int:
        """Run ``argv`` as ``exec argv`` in a shell would, minus the shell's start-up."""
        payload = json.dumps({"argv": list(argv), "cwd": cwd, "env": dict(env)}).encode()
        return self._start((b"A", payload), on_stdout, on_stderr, stdin, cancel)

    def _start(
        self,
        request: tuple[bytes, bytes],
        on_stdout: OnOutput,
        on_stderr: OnOutput,
        stdin: bytes | IO[bytes] | None,
        cancel: threading.Event | None,
    ) -> int:
        run = _Run(on_stdout, on_stderr)
        with self._lock:
            rid = self._next_id
            self._next_id += 1
            self._runs[rid] = run
        try:
            self._send(request[0], rid, request[1])
            if stdin is None:
                self._send(b"C", rid)
            else:
                threading.Thread(
                    target=self._pump, args=(rid, stdin, run), name="colablink-stdin", daemon=True
                ).start()
            return self._wait(rid, run, cancel)
        finally:
            with self._lock:
                self._runs.pop(rid, None)

    def _wait(self, rid: int, run: _Run, cancel: threading.Event | None) -> int:
        interrupted_at: float | None = None
        killed = False
        while not run.done.wait(0.05 if cancel is not None else None):
            if not self.alive:
                break
            if cancel is None or not cancel.is_set():
                continue
            now = time.monotonic()
            if interrupted_at is None:
                interrupted_at = now
                self._send(b"S", rid, b"INT")
            elif not killed and now - interrupted_at >= remote_exec.INTERRUPT_GRACE_S:
                killed = True
                self._send(b"S", rid, b"KILL")
            elif now - interrupted_at >= remote_exec.INTERRUPT_GRACE_S + GIVE_UP_S:
                return signal_exit_code("INT")
        if run.code is None:
            raise ConnectionLost("The connection dropped before the remote command finished.")
        return run.code

    def _pump(self, rid: int, stdin: bytes | IO[bytes], run: _Run) -> None:
        try:
            if isinstance(stdin, bytes | bytearray | memoryview):
                view = memoryview(stdin)
                for start in range(0, len(view), CHUNK):
                    self._send(b"I", rid, bytes(view[start : start + CHUNK]))
            else:
                read = getattr(stdin, "read1", stdin.read)
                while not run.done.is_set() and (chunk := read(CHUNK)):
                    self._send(b"I", rid, chunk)
            self._send(b"C", rid)
        except (OSError, EOFError, ConnectionLost, paramiko.SSHException):
            pass

    def _read(self) -> None:
        buffer = bytearray()
        try:
            while True:
                data = self._chan.recv(CHUNK)
                if not data:
                    break
                buffer += data
                while len(buffer) >= HEADER.size:
                    kind, rid, length = HEADER.unpack_from(buffer)
                    end = HEADER.size + length
                    if len(buffer) < end:
                        break
                    payload = bytes(buffer[HEADER.size : end])
                    del buffer[:end]
                    self._dispatch(kind, rid, payload)
        except (OSError, EOFError, paramiko.SSHException):
            pass
        finally:
            self.alive = False
            self._ready.set()
            with self._lock:
                runs = list(self._runs.values())
            for run in runs:
                run.done.set()

    def _dispatch(self, kind: int, rid: int, payload: bytes) -> None:
        if kind == ord("!"):
            self._ready.set()
            return
        with self._lock:
            run = self._runs.get(rid)
        if run is None:
            return
        if kind == ord("O"):
            run.on_stdout(payload)
        elif kind == ord("E"):
            run.on_stderr(payload)
        elif kind == ord("X"):
            run.code = int(payload)
            run.done.set()
