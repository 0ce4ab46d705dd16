"""``colablink forward``: one runtime port, many local clients at once; Ctrl+C closes it."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from colablink.connection import Connection
from support.system import free_port, wait_for

from .conftest import Setup, end


@pytest.fixture
def http_server(live: Setup) -> Iterator[int]:
    """``python3 -m http.server`` on the runtime, serving a known file from the remote root."""
    port = free_port()
    connection = Connection(live.profile)
    connection.run(["sh", "-c", "echo served from the runtime > page.txt"])
    stop = threading.Event()
    server = threading.Thread(
        target=connection.exec,
        args=(["python3", "-m", "http.server", "--bind", "127.0.0.1", str(port)],),
        kwargs={"on_stdout": lambda _: None, "on_stderr": lambda _: None, "cancel": stop},
        daemon=True,
    )
    server.start()
    wait_for(lambda: port_open(port), 15, "the runtime's http server")
    try:
        yield port
    finally:
        stop.set()
        server.join(timeout=10)
        connection.close()


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def fetch(port: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/page.txt", timeout=10) as response:
        body: bytes = response.read()
        return body


def test_forward_serves_ten_concurrent_clients(live: Setup, mode: str, http_server: int) -> None:
    local_port = free_port()
    process = live.spawn("forward", str(http_server), "--local-port", str(local_port))
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        assert f"http://127.0.0.1:{local_port}" in line, line
        with ThreadPoolExecutor(max_workers=10) as pool:
            bodies = list(pool.map(lambda _: fetch(local_port), range(10)))
        assert bodies == [b"served from the runtime\n"] * 10
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        end(process)
    assert process.stderr is not None
    assert b"Traceback" not in process.stderr.read()
    wait_for(lambda: not port_open(local_port), 5, "the local port to close")


def test_disconnect_stops_forwards_held_by_the_agent(
    live: Setup, agent: subprocess.Popen[bytes], http_server: int
) -> None:
    local_port = free_port()
    process = live.spawn("forward", str(http_server), "--local-port", str(local_port))
    try:
        assert process.stdout is not None
        process.stdout.readline()
        assert fetch(local_port) == b"served from the runtime\n"
        assert live.cli("disconnect").returncode == 0
        assert process.wait(timeout=10) == 0
        assert agent.wait(timeout=10) == 0
    finally:
        end(process)
    wait_for(lambda: not port_open(local_port), 5, "the local port to close")
