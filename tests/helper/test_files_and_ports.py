"""Download and port forwards through the helper, against the real runtime."""

from __future__ import annotations

import asyncio
import socket

import pytest
from colablink.helper.protocol import Method
from support.runtimes import RuntimeHandle

from .conftest import PROFILE, Workspace, connect_profile, write_profile
from .lspclient import HelperClient


def banner(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        return conn.recv(64)


async def test_download_forward_and_unforward(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    write_profile(workspace, shared_runtime)
    await connect_profile(helper, workspace)

    name = f"made-remotely-{workspace.base.name}.txt"
    writer = f"open({name!r}, 'w').write('x' * 300000)"
    made = await helper.request(
        Method.EXEC, {"profile": PROFILE, "execId": "mk", "argv": ["python3", "-c", writer]}
    )
    assert made == {"exitCode": 0}
    target = workspace.base / "downloaded.txt"
    got = await helper.request(
        Method.DOWNLOAD, {"profile": PROFILE, "remotePath": name, "localPath": str(target)}
    )
    assert got == {"localPath": str(target), "bytes": 300000}
    assert target.read_bytes() == b"x" * 300000

    # The runtime's own sshd is a service on its loopback: forward to it and read its banner.
    opened = await helper.request(
        Method.FORWARD, {"profile": PROFILE, "remotePort": shared_runtime.port}
    )
    local_port = opened["localPort"]
    assert opened["remotePort"] == shared_runtime.port
    assert (await asyncio.to_thread(banner, local_port)).startswith(b"SSH-2.0-")
    await helper.request(Method.UNFORWARD, {"profile": PROFILE, "localPort": local_port})
    with pytest.raises(OSError):
        await asyncio.to_thread(banner, local_port)
    with pytest.raises(Exception) as caught:
        await helper.request(Method.UNFORWARD, {"profile": PROFILE, "localPort": local_port})
    assert getattr(caught.value, "code", None) == -32602
