"""Port forwarding to a real HTTP server on the runtime, and PTY shells."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from colablink.ssh import remote_exec
from colablink.ssh.forward import LocalForward
from colablink.ssh.pty import open_shell, resize
from colablink.ssh.session import Session
from support import free_port, wait_for
from support.runtimes import RuntimeHandle

from bench.delay_proxy import DelayProxy

from .targets import key_target


@pytest.fixture
def http_port(session: Session, runtime: RuntimeHandle) -> Iterator[int]:
    """``python3 -m http.server`` on the runtime, serving a file from remote_root."""
    session.run(["sh", "-c", "head -c 100000 /dev/urandom > page.bin"], cwd=runtime.remote_root)
    port = free_port()
    cancel = threading.Event()
    # http.server's listen backlog of 5 would make simultaneous clients wait for SYN retries.
    serve = (
        "import http.server as h, sys; h.ThreadingHTTPServer.request_queue_size = 64; "
        "h.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), "
        "h.SimpleHTTPRequestHandler).serve_forever()"
    )
    command = remote_exec.command_line(["python3", "-c", serve, str(port)], cwd=runtime.remote_root)
    server = threading.Thread(
        target=remote_exec.stream,
        args=(session, command),
        kwargs={"on_stdout": lambda _: None, "on_stderr": lambda _: None, "cancel": cancel},
        daemon=True,
    )
    server.start()
    probe = remote_exec.command_line(
        ["python3", "-c", f"import socket; socket.create_connection(('127.0.0.1', {port}))"]
    )
    wait_for(lambda: session.run(probe).exit_code == 0, 10, "the HTTP server on the runtime")
    yield port
    cancel.set()
    server.join(5)


def test_forward_serves_10_concurrent_clients(
    session: Session, runtime: RuntimeHandle, http_port: int
) -> None:
    expected = session.run(["cat", "page.bin"], cwd=runtime.remote_root).stdout
    forward = LocalForward(session, http_port)
    port = forward.start()
    barrier = threading.Barrier(10)

    def fetch(_: int) -> bytes:
        barrier.wait(10)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/page.bin", timeout=20) as resp:
            body: bytes = resp.read()
        return body

    try:
        # Several rounds: a relay that answered the runtime's CLOSE out of order once made sshd
        # drop the whole connection ("packet referred to nonexistent channel").
        for _ in range(20):
            with ThreadPoolExecutor(10) as pool:
                bodies = list(pool.map(fetch, range(10)))
            assert bodies == [expected] * 10
        assert session.run(["true"]).exit_code == 0
    finally:
        forward.stop()
    assert forward.active_connections == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)


def test_forward_opens_channels_for_clients_in_parallel(
    runtime: RuntimeHandle, http_port: int
) -> None:
    with DelayProxy(runtime.host, runtime.port, delay=0.02) as proxy:
        slow = Session.connect(key_target(runtime, port=proxy.port))
        forward = LocalForward(slow, http_port)
        port = forward.start()
        barrier = threading.Barrier(10)

        def fetch(_: int) -> float:
            barrier.wait(10)
            start = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=20) as resp:
                resp.read()
            return time.perf_counter() - start

        try:
            with ThreadPoolExecutor(10) as pool:
                slowest = max(pool.map(fetch, range(10)))
        finally:
            forward.stop()
            slow.close()
    # One at a time, the last client would wait for nine channel opens (≥ 9 x 40 ms) first.
    assert slowest < 0.35, slowest


def test_forward_to_a_closed_remote_port_refuses_only_that_client(session: Session) -> None:
    forward = LocalForward(session, free_port())
    port = forward.start()
    try:
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
        assert session.is_active()
    finally:
        forward.stop()


def read_until(chan: object, marker: bytes, timeout: float = 10) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while marker not in got:
        assert time.monotonic() < deadline, f"no {marker!r} in {got!r}"
        if chan.recv_ready():  # type: ignore[attr-defined]
            got += chan.recv(65536)  # type: ignore[attr-defined]
        else:
            time.sleep(0.01)
    return got


def test_pty_shell_starts_in_cwd_follows_resizes_and_returns_status(
    session: Session, runtime: RuntimeHandle
) -> None:
    chan = open_shell(session, runtime.remote_root, cols=100, rows=30)
    chan.sendall(b"echo PWD=$(pwd) SIZE=$(stty size) TTY=$(tty | cut -c1-8)\n")
    out = read_until(chan, b"TTY=/dev/pts")
    assert f"PWD={runtime.remote_root} SIZE=30 100".encode() in out
    resize(chan, 132, 43)
    time.sleep(0.2)
    chan.sendall(b"echo NEW=$(stty size)\n")
    assert b"NEW=43 132" in read_until(chan, b"NEW=43")
    chan.sendall(b"exit 7\n")
    assert chan.recv_exit_status() == 7
    chan.close()
