"""Runs on the runtime as sshd's child for one channel: the way in to the run supervisor.

Sent as source over the exec channel (``colablink.ssh.bootstrap``) and started with ``python3 -S``;
standard library only, Python 3.8 compatible, and small: it is on every cold command's path, so it
imports only C modules (``_socket``, not ``socket`` and its enum machinery). After its own source
it reads, from stdin: the supervisor's source (length-prefixed; kept as bytes, compiled only when
a supervisor must be started) and one config line, ``<folder>\\t<limits JSON>``. It then reaches
the supervisor on ``<folder>/supervisor.sock`` (starting it in its own session when none answers)
and relays bytes both ways until either side closes. What the client sent after the config line,
before the supervisor answered, is relayed first: a cold command costs no extra round trip.
"""

from __future__ import annotations

# Plain os calls: pathlib is no C module.
# ruff: noqa: PTH103
import _socket
import os
import select
import sys
import time

SOCKET_NAME = "supervisor.sock"
READY_SIZE = 10  # the supervisor's ready frame: kind, tag, length, one byte
READ = 1 << 16
FRONT_WAIT_S = 10.0
RELAUNCH = (
    "import sys;b=sys.stdin.buffer;n=int(b.readline());s=b.read(n);"
    'g={"__name__":"colablink_supervisor"};exec(compile(s,"colablink-supervisor","exec"),g);'
    'g["main"]()'
)


def spawn(folder: str, limits: str, source: bytes) -> None:
    """Start the supervisor in its own session: no child of sshd, no terminal, no inherited fds."""
    child = os.fork()
    if child:
        os.waitpid(child, 0)
        return
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        read_end, write_end = os.pipe()
        os.write(write_end, str(len(source)).encode() + b"\n" + source)
        os.close(write_end)
        os.dup2(read_end, 0)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.closerange(3, 1 << 16)
        argv = [sys.executable, "-S", "-c", RELAUNCH, "--supervise", folder, limits]
        os.execv(sys.executable, argv)  # noqa: S606 (our own interpreter)
    finally:
        os._exit(1)


def reach(folder: str, limits: str, source: bytes) -> tuple[_socket.socket, bytes]:
    """A socket to the supervisor and its ready frame, starting the supervisor when needed."""
    deadline = time.monotonic() + FRONT_WAIT_S
    spawned_at = 0.0
    while time.monotonic() < deadline:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.connect(SOCKET_NAME)  # relative: a deep remote root would pass the 108-byte limit
            ready = sock.recv(READY_SIZE, _socket.MSG_WAITALL)
            if len(ready) == READY_SIZE:
                return sock, ready
        except OSError:
            pass
        sock.close()
        if time.monotonic() - spawned_at > 1.0:
            spawn(folder, limits, source)
            spawned_at = time.monotonic()
        time.sleep(0.01)
    raise SystemExit("colablink: the run supervisor did not start")


def buffered_input() -> bytes:
    """What stdin's buffer already holds past the config line (requests sent without waiting)."""
    stdin = sys.stdin.buffer
    fd = stdin.fileno()
    os.set_blocking(fd, False)
    try:
        return getattr(stdin, "read1")(READ) or b""  # noqa: B009 (BinaryIO does not declare it)
    except BlockingIOError:
        return b""
    finally:
        os.set_blocking(fd, True)


def relay(sock: _socket.socket, first: bytes, early: bytes) -> None:
    stdin_fd = sys.stdin.buffer.fileno()
    out_fd = sys.stdout.buffer.fileno()
    os.write(out_fd, first)
    if early:
        sock.sendall(early)
    while True:
        readable, _, _ = select.select([stdin_fd, sock], [], [])
        if stdin_fd in readable:
            data = os.read(stdin_fd, READ)
            if not data:
                return
            sock.sendall(data)
        if sock in readable:
            data = sock.recv(READ)
            if not data:
                return
            view = memoryview(data)
            while view:
                view = view[os.write(out_fd, view) :]


def main() -> None:
    stdin = sys.stdin.buffer
    size = int(stdin.readline())
    source = stdin.read(size)
    folder, limits = stdin.readline().decode("utf-8", "surrogateescape").rstrip("\n").split("\t")
    os.makedirs(folder, 0o700, exist_ok=True)
    os.chdir(folder)
    early = buffered_input()
    sock, ready = reach(folder, limits, source)
    relay(sock, ready, early)


if __name__ == "__main__":
    main()
