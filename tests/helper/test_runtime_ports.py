"""Ports the runtime starts listening on reach the window's status, with their process."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from colablink.helper.protocol import Method, Notification
from support import free_port
from support.runtimes import RuntimeHandle
from support.system import spawn_as

from .conftest import PROFILE, Workspace, connect_profile, write_profile
from .lspclient import HelperClient

# The runtime shares this machine: its server takes 127.0.0.2, so 127.0.0.1 keeps the same port
# number free for the forward, as it would be on a separate machine.
SERVER_ADDRESS = "127.0.0.2"


def page(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        return str(response.read().decode())


def ports_of(note: Any) -> dict[int, Any]:
    return {entry["port"]: entry for entry in note["status"]["ports"]}


async def test_a_new_listening_port_is_reported_with_its_process_and_forwarded_on_its_number(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    write_profile(workspace, shared_runtime)
    status = await connect_profile(helper, workspace)
    # The runtime's sshd and sockets of other users are not the login user's ports to offer.
    assert shared_runtime.port not in {p["port"] for p in status["ports"]}
    port = free_port()
    with socket.create_server(("127.0.0.1", 0)) as foreign:
        foreign_port = foreign.getsockname()[1]
        server = spawn_as(
            shared_runtime.username,
            ["python3", "-m", "http.server", str(port), "--bind", SERVER_ADDRESS],
        )
        try:
            note = await helper.wait_note(
                Notification.STATUS_CHANGED, lambda n: port in ports_of(n), timeout=20
            )
            entry = ports_of(note)[port]
            assert (entry["address"], entry["host"], entry["process"]) == (
                SERVER_ADDRESS,
                SERVER_ADDRESS,
                "python3",
            )
            # The runtime is this machine: the reported pid is the server's own.
            cmdline = Path(f"/proc/{entry['pid']}/cmdline").read_bytes().split(b"\0")
            assert b"http.server" in cmdline and str(port).encode() in cmdline
            assert foreign_port not in ports_of(note)

            with pytest.raises(Exception) as caught:
                await helper.request(
                    Method.FORWARD,
                    {"profile": PROFILE, "remotePort": port, "remoteHost": "$(reboot)"},
                )
            assert getattr(caught.value, "code", None) == -32602
            opened = await helper.request(
                Method.FORWARD,
                {
                    "profile": PROFILE,
                    "remotePort": port,
                    "localPort": port,
                    "remoteHost": entry["host"],
                },
            )
            assert opened == {"localPort": port, "remotePort": port}
            assert "Directory listing" in await asyncio.to_thread(page, port)
            await helper.request(Method.UNFORWARD, {"profile": PROFILE, "localPort": port})
        finally:
            server.kill()
            server.wait()
    seen = len(helper.notes_of(Notification.STATUS_CHANGED))
    # A server that stopped leaves the list at the next probe.
    await helper.wait_note(
        Notification.STATUS_CHANGED,
        lambda _: any(
            port not in ports_of(n) for n in helper.notes_of(Notification.STATUS_CHANGED)[seen:]
        ),
        timeout=20,
    )
