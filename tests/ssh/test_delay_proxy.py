"""The delay proxy adds its delay each way and drops connections when told to."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from bench.delay_proxy import DelayProxy


@pytest.fixture
def echo_port() -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.shutdown(socket.SHUT_RDWR)  # close() alone does not wake a blocked accept()
    listener.close()
    thread.join(5)


def roundtrip(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def test_adds_the_delay_each_way(echo_port: int) -> None:
    with (
        DelayProxy("127.0.0.1", echo_port, delay=0.02) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port)) as sock,
    ):
        roundtrip(sock, b"warm")
        times = []
        for _ in range(5):
            start = time.perf_counter()
            assert roundtrip(sock, b"ping") == b"ping"
            times.append(time.perf_counter() - start)
    assert 0.040 <= min(times) < 0.080


def test_cut_resets_every_connection_and_new_ones_still_work(echo_port: int) -> None:
    with DelayProxy("127.0.0.1", echo_port, delay=0.001) as proxy:
        socks = [socket.create_connection(("127.0.0.1", proxy.port)) for _ in range(3)]
        for sock in socks:
            assert roundtrip(sock, b"x") == b"x"
        proxy.cut()
        for sock in socks:
            sock.settimeout(5)
            with pytest.raises((ConnectionResetError, BrokenPipeError)):
                sock.sendall(b"y")
                if not sock.recv(1):
                    raise ConnectionResetError
            sock.close()
        assert proxy.cuts == 1
        with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
            assert roundtrip(sock, b"again") == b"again"


def test_cut_after_n_bytes_is_exact(echo_port: int) -> None:
    with DelayProxy("127.0.0.1", echo_port, delay=0.001, cut_after=1000 + 300) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
            sock.settimeout(5)
            sock.sendall(b"a" * 1000)
            got = b""
            try:
                while chunk := sock.recv(65536):
                    got += chunk
            except ConnectionResetError:
                pass
        # 1000 bytes up, then exactly 300 of the echo back before the cut.
        assert len(got) == 300
        assert proxy.bytes_forwarded == 1300 and proxy.cuts == 1


def test_command_line_prints_port_and_cuts_on_sigusr1(echo_port: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.delay_proxy", f"127.0.0.1:{echo_port}", "--delay-ms", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.settimeout(5)
            assert roundtrip(sock, b"hi") == b"hi"
            proc.send_signal(signal.SIGUSR1)
            with pytest.raises(ConnectionResetError):
                if not sock.recv(1):
                    raise ConnectionResetError
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_stall_holds_traffic_without_closing_and_resume_delivers_it(echo_port: int) -> None:
    with (
        DelayProxy("127.0.0.1", echo_port, delay=0.001) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port)) as sock,
    ):
        assert roundtrip(sock, b"before") == b"before"
        proxy.stall()
        sock.sendall(b"held")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        proxy.resume()
        sock.settimeout(5)
        assert sock.recv(10) == b"held"
