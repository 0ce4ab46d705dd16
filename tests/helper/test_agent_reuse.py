"""With ``colablink watch`` holding the profile, the helper works through the agent's socket."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from colablink.protocol import Method, Notification
from lsprotocol import types
from support.runtimes import RuntimeHandle
from support.system import wait_for

from .conftest import PROFILE, Workspace, write_profile
from .lspclient import HelperClient
from .remote import remote_sleeps, tcp_peer_ports


@pytest.fixture
def agent(workspace: Workspace, shared_runtime: RuntimeHandle) -> Iterator[subprocess.Popen[bytes]]:
    write_profile(workspace, shared_runtime)
    process = subprocess.Popen(
        [sys.executable, "-m", "colablink", "--profile", PROFILE, "watch"],
        env=workspace.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    socket = workspace.base / "run" / f"agent-{PROFILE}.sock"
    try:
        wait_for(socket.exists, 15, "the agent's socket")
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_exec_status_and_cancel_go_through_a_running_agent(
    agent: subprocess.Popen[bytes],
    helper: HelperClient,
    workspace: Workspace,
    shared_runtime: RuntimeHandle,
) -> None:
    params = {"profile": PROFILE, "workspaceRoot": str(workspace.project)}
    status = await helper.request(Method.CONNECT, params)
    assert status["state"] == "connected"
    assert isinstance(status["latencyMs"], float)

    script = "import sys; print('via agent'); print('err', file=sys.stderr); sys.exit(4)"
    result = await helper.request(
        Method.EXEC, {"profile": PROFILE, "execId": "a1", "argv": ["python3", "-c", script]}
    )
    assert result == {"exitCode": 4}
    chunks = [p for p in helper.notes_of(Notification.EXEC_OUTPUT) if p["execId"] == "a1"]
    assert "".join(p["data"] for p in chunks if p["stream"] == "stdout") == "via agent\n"
    assert "".join(p["data"] for p in chunks if p["stream"] == "stderr") == "err\n"

    sleeper = {"profile": PROFILE, "execId": "a2", "argv": ["sleep", "100"]}
    request = asyncio.ensure_future(
        helper.lsp.protocol.send_request_async(Method.EXEC, sleeper, msg_id="agent-sleep")
    )
    await asyncio.to_thread(
        wait_for, lambda: remote_sleeps(shared_runtime.username), 15, "the remote sleep"
    )
    started = time.monotonic()
    helper.lsp.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="agent-sleep"))
    with pytest.raises(Exception) as caught:
        await asyncio.wait_for(request, 5)
    assert getattr(caught.value, "code", None) == -32800
    await asyncio.to_thread(
        wait_for, lambda: not remote_sleeps(shared_runtime.username), 2, "the sleep to end"
    )
    assert time.monotonic() - started < 2.0

    # The agent's connection is the only one: the helper holds none to the runtime.
    assert shared_runtime.port not in tcp_peer_ports(helper.pid)
    assert shared_runtime.port in tcp_peer_ports(agent.pid)


async def test_the_window_takes_over_when_the_agent_stops(
    agent: subprocess.Popen[bytes],
    helper: HelperClient,
    workspace: Workspace,
    shared_runtime: RuntimeHandle,
) -> None:
    params = {"profile": PROFILE, "workspaceRoot": str(workspace.project)}
    await helper.request(Method.CONNECT, params)
    assert shared_runtime.port not in tcp_peer_ports(helper.pid)
    agent.send_signal(signal.SIGINT)
    agent.wait(timeout=10)

    # The next command finds the agent gone, connects directly and still runs.
    result = await helper.request(
        Method.EXEC, {"profile": PROFILE, "execId": "t1", "argv": ["true"]}
    )
    assert result == {"exitCode": 0}
    assert shared_runtime.port in tcp_peer_ports(helper.pid)
    [status] = (await helper.request(Method.STATUS, {}))["profiles"]
    assert status["state"] == "connected"
    # Its own sync runs now: a flush goes through.
    (workspace.project / f"after-agent-{workspace.base.name}.txt").write_text("mine\n")
    await helper.request(Method.FLUSH, {"profile": PROFILE})
