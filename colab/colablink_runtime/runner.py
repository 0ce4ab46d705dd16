"""Runs on the runtime: starts commands on request over one long-lived SSH channel.

A fresh SSH channel per command costs sshd a fork and a session set-up on every call; this
process, started once per connection, takes that off the warm path. It is sent as source over
the channel (``colablink.ssh.bootstrap``) and must stay standard-library only and Python 3.8
compatible.

Frames both ways: kind (1 byte), run id (4), length (4), payload. In: ``R`` run a shell command
line; ``A`` run an argv directly (JSON: argv, cwd, env), sparing the shell's start-up; ``I``
stdin bytes; ``C`` close stdin; ``S`` signal the run's process group (payload: the signal's
name). Out: ``!`` ready, ``O``/``E`` output, ``X`` exit code (decimal; 128+n when signal n ended
it). End of input ends every run and this process.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import select
import shutil
import signal
import struct
import subprocess
import sys

HEADER = struct.Struct(">BII")
READ = 1 << 16
REAP_POLL_S = 0.05


class Run:
    def __init__(self, rid: int, proc: subprocess.Popen[bytes]) -> None:
        self.rid = rid
        self.proc = proc
        self.open_outputs: set[int] = set()
        self.pending_input = bytearray()
        self.close_input = False


class Runner:
    def __init__(self) -> None:
        self.out = sys.stdout.buffer
        self.shell = pwd.getpwuid(os.getuid()).pw_shell or "/bin/sh"
        self.runs: dict[int, Run] = {}
        self.by_fd: dict[int, Run] = {}
        self.inbox = bytearray()
        self.reaping: list[Run] = []

    def send(self, kind: bytes, rid: int, payload: bytes = b"") -> None:
        self.out.write(HEADER.pack(kind[0], rid, len(payload)) + payload)
        self.out.flush()

    def start(self, rid: int, argv: list[str], cwd: str | None, env: dict[str, str]) -> None:
        # Search PATH as a shell does, skipping directories we may not enter (execvp would
        # report EACCES for those, where a shell says "not found").
        executable = argv[0] if "/" in argv[0] else shutil.which(argv[0])
        try:
            if executable is None:
                raise FileNotFoundError(2, "not found")
            proc = subprocess.Popen(
                argv,
                executable=executable,
                cwd=cwd,
                env={**os.environ, **env},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, so a signal reaches all of it
            )
        except OSError as exc:
            # The codes a shell gives: 127 not found, 126 not executable, 1 for a bad cwd.
            if cwd is not None and not os.path.isdir(cwd):  # noqa: PTH112 (no pathlib here)
                code, why = 1, f"cd: {cwd}: {exc.strerror}"
            elif isinstance(exc, FileNotFoundError):
                code, why = 127, f"{argv[0]}: not found"
            else:
                code, why = 126, f"{argv[0]}: {exc.strerror}"
            self.send(b"E", rid, f"{why}\n".encode())
            self.send(b"X", rid, str(code).encode())
            return
        run = Run(rid, proc)
        assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
        for stream in (proc.stdout, proc.stderr):
            run.open_outputs.add(stream.fileno())
            self.by_fd[stream.fileno()] = run
        os.set_blocking(proc.stdin.fileno(), False)
        self.runs[rid] = run

    def handle(self, kind: int, rid: int, payload: bytes) -> None:
        if kind == ord("R"):
            self.start(
                rid, [self.shell, "-c", payload.decode("utf-8", "surrogateescape")], None, {}
            )
            return
        if kind == ord("A"):
            request = json.loads(payload)
            self.start(rid, request["argv"], request["cwd"], request["env"])
            return
        run = self.runs.get(rid)
        if run is None:
            return
        if kind == ord("I"):
            run.pending_input += payload
        elif kind == ord("C"):
            run.close_input = True
        elif kind == ord("S"):
            number = getattr(signal, "SIG" + payload.decode("ascii", "replace"), None)
            if number is not None:
                with contextlib.suppress(OSError):
                    os.killpg(run.proc.pid, number)
        self.feed(run)

    def feed(self, run: Run) -> None:
        stdin = run.proc.stdin
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

    def read_output(self, fd: int) -> None:
        run = self.by_fd[fd]
        data = os.read(fd, READ)
        if data:
            stdout = run.proc.stdout
            self.send(b"O" if stdout is not None and fd == stdout.fileno() else b"E", run.rid, data)
            return
        run.open_outputs.discard(fd)
        del self.by_fd[fd]
        if not run.open_outputs:
            self.reaping.append(run)

    def reap(self) -> None:
        for run in list(self.reaping):
            code = run.proc.poll()
            if code is None:
                continue
            self.reaping.remove(run)
            for stream in (run.proc.stdin, run.proc.stdout, run.proc.stderr):
                if stream is not None and not stream.closed:
                    stream.close()
            del self.runs[run.rid]
            self.send(b"X", run.rid, str(128 - code if code < 0 else code).encode())

    def take_frames(self) -> None:
        while len(self.inbox) >= HEADER.size:
            kind, rid, length = HEADER.unpack_from(self.inbox)
            end = HEADER.size + length
            if len(self.inbox) < end:
                return
            payload = bytes(self.inbox[HEADER.size : end])
            del self.inbox[:end]
            self.handle(kind, rid, payload)

    def serve(self) -> None:
        # A child's exit wakes the loop at once (rather than on the next poll).
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.send(b"!", 0, b"1")
        stdin_fd = sys.stdin.buffer.fileno()
        while True:
            writers = [
                run.proc.stdin.fileno()
                for run in self.runs.values()
                if run.proc.stdin is not None
                and not run.proc.stdin.closed
                and (run.pending_input or run.close_input)
            ]
            timeout = REAP_POLL_S if self.reaping else None
            readable, writable, _ = select.select(
                [stdin_fd, wake_read, *self.by_fd], writers, [], timeout
            )
            for fd in readable:
                if fd == wake_read:
                    os.read(wake_read, 512)
                elif fd == stdin_fd:
                    data = os.read(stdin_fd, READ)
                    if not data:
                        return
                    self.inbox += data
                    self.take_frames()
                elif fd in self.by_fd:
                    self.read_output(fd)
            for fd in writable:
                for run in list(self.runs.values()):
                    stdin = run.proc.stdin
                    if stdin is not None and not stdin.closed and stdin.fileno() == fd:
                        self.feed(run)
            self.reap()

    def stop_all(self) -> None:
        for run in self.runs.values():
            with contextlib.suppress(OSError):
                os.killpg(run.proc.pid, signal.SIGKILL)


def main() -> None:
    runner = Runner()
    try:
        runner.serve()
    finally:
        runner.stop_all()


if __name__ == "__main__":
    main()
