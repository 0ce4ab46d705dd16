"""With ``colablink watch`` holding the profile, the helper works through the agent's socket."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from colablink.helper.protocol import Method, Notification
from lsprotocol import types
from support.runtimes import RuntimeHandle
from support.system import wait_for

from .conftest import PROFILE, Workspace, connect_profile, write_profile
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


def assert_only_agent_connected(
    helper: HelperClient, agent: subprocess.Popen[bytes], runtime: RuntimeHandle
) -> None:
    """The agent holds the one connection to the runtime; the helper holds none."""
    assert runtime.port not in tcp_peer_ports(helper.pid)
    assert runtime.port in tcp_peer_ports(agent.pid)


async def test_exec_status_and_cancel_go_through_a_running_agent(
    agent: subprocess.Popen[bytes],
    helper: HelperClient,
    workspace: Workspace,
    shared_runtime: RuntimeHandle,
) -> None:
    status = await connect_profile(helper, workspace)
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
    assert_only_agent_connected(helper, agent, shared_runtime)


async def test_the_window_takes_over_when_the_agent_stops(
    agent: subprocess.Popen[bytes],
    helper: HelperClient,
    workspace: Workspace,
    shared_runtime: RuntimeHandle,
) -> None:
    await connect_profile(helper, workspace)
    assert shared_runtime.port not in tcp_peer_ports(helper.pid)
    agent.send_signal(signal.SIGINT)
    agent.wait(timeout=10)

    # The end of the agent's event stream is enough: the window connects and syncs on its own.
    await asyncio.to_thread(
        wait_for,
        lambda: shared_runtime.port in tcp_peer_ports(helper.pid),
        10,
        "the window's own connection",
    )
    # The next command runs on that connection.
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


async def test_sync_and_terminals_use_the_agent_and_its_engine(
    agent: subprocess.Popen[bytes],
    helper: HelperClient,
    workspace: Workspace,
    shared_runtime: RuntimeHandle,
) -> None:
    await connect_profile(helper, workspace)

    # The sync state is the agent engine's, not "disconnected".
    async def sync_state() -> str:
        [status] = (await helper.request(Method.STATUS, {}))["profiles"]
        return str(status["syncState"])

    deadline = time.monotonic() + 15
    while await sync_state() != "idle":
        assert time.monotonic() < deadline, "the agent's sync never showed as idle"
        await asyncio.sleep(0.1)

    # flush resolves only once the agent's engine has put the file on the runtime.
    name = f"flushed-{workspace.base.name}.bin"
    local = workspace.project / name
    remote = Path(shared_runtime.remote_root) / name
    for round_ in range(3):
        content = bytes([round_ + 1]) * (4 << 20)
        local.write_bytes(content)
        await helper.request(Method.FLUSH, {"profile": PROFILE, "paths": [str(local)]})
        assert remote.read_bytes() == content

    # syncNow runs a pass on the agent's engine, with begin/report/end progress.
    (workspace.project / f"new-{workspace.base.name}.py").write_text("print('hi')\n")
    helper.lsp.progress_reports.setdefault("agent-pass", [])
    result = await helper.request(
        Method.SYNC_NOW, {"profile": PROFILE, "workDoneToken": "agent-pass"}
    )
    assert set(result) == {"pushed", "pulled"}
    kinds = [step.kind for step in helper.lsp.progress_reports["agent-pass"]]
    assert kinds[0] == "begin" and kinds[-1] == "end" and "report" in kinds
    assert (Path(shared_runtime.remote_root) / f"new-{workspace.base.name}.py").exists()

    # A file written remotely in the connection directory is announced when the agent pulls it.
    line = 'mkdir -p "$COLABLINK_OUTPUT_DIR" && echo via-agent > "$COLABLINK_OUTPUT_DIR/landed.txt"'
    done = await helper.request(
        Method.EXEC, {"profile": PROFILE, "execId": "o1", "commandLine": line}
    )
    assert done == {"exitCode": 0}
    changed = await helper.wait_note(
        Notification.OUTPUTS_CHANGED, lambda p: "landed.txt" in p["paths"], timeout=20
    )
    assert changed["profile"] == PROFILE
    assert (workspace.project / "colab_outputs" / "landed.txt").read_text() == "via-agent\n"

    # A terminal through the agent: its size, a resize, and its exit status.
    opened = await helper.request(Method.PTY_OPEN, {"profile": PROFILE, "cols": 83, "rows": 27})
    pty_id = opened["ptyId"]

    await helper.request(Method.PTY_INPUT, {"ptyId": pty_id, "data": "stty size; pwd\n"})
    await helper.wait_note(Notification.PTY_OUTPUT, lambda _: "27 83" in helper.screen(pty_id))
    assert shared_runtime.remote_root in helper.screen(pty_id)
    await helper.request(Method.PTY_RESIZE, {"ptyId": pty_id, "cols": 101, "rows": 33})
    await helper.request(Method.PTY_INPUT, {"ptyId": pty_id, "data": "stty size; exit 5\n"})
    await helper.wait_note(Notification.PTY_OUTPUT, lambda _: "33 101" in helper.screen(pty_id))
    ended = await helper.wait_note(Notification.PTY_EXIT, lambda p: p["ptyId"] == pty_id)
    assert ended["exitCode"] == 5

    # All of it ran on the agent's one connection: the helper never reached the runtime itself.
    assert_only_agent_connected(helper, agent, shared_runtime)


async def test_closing_a_terminal_ends_the_agents_shell(
    agent: subprocess.Popen[bytes],
    helper: HelperClient,
    workspace: Workspace,
    shared_runtime: RuntimeHandle,
) -> None:
    await connect_profile(helper, workspace)
    opened = await helper.request(Method.PTY_OPEN, {"profile": PROFILE, "cols": 80, "rows": 24})
    pty_id = opened["ptyId"]
    await helper.request(Method.PTY_INPUT, {"ptyId": pty_id, "data": "sleep 100\n"})
    await asyncio.to_thread(
        wait_for, lambda: remote_sleeps(shared_runtime.username), 15, "the shell's sleep"
    )
    await helper.request(Method.PTY_CLOSE, {"ptyId": pty_id})
    await helper.wait_note(Notification.PTY_EXIT, lambda p: p["ptyId"] == pty_id)
    await asyncio.to_thread(
        wait_for, lambda: not remote_sleeps(shared_runtime.username), 5, "the shell to end"
    )
    assert shared_runtime.port not in tcp_peer_ports(helper.pid)


async def test_the_runs_view_goes_through_the_agent(
    agent: subprocess.Popen[bytes],
    helper: HelperClient,
    workspace: Workspace,
    shared_runtime: RuntimeHandle,
) -> None:
    await connect_profile(helper, workspace)
    started = subprocess.run(
        [sys.executable, "-m", "colablink", "--profile", PROFILE, "exec", "--detach",
         "echo ready; sleep 100"],
        env=workspace.env, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    run_id = started.stdout.strip()
    listed = (await helper.request(Method.RUNS, {"profile": PROFILE}))["runs"]
    assert [run["state"] for run in listed if run["id"] == run_id] == ["running"]

    # Attached from its start; cancelling the request (the terminal closed) interrupts the run.
    attach = {"profile": PROFILE, "runId": run_id, "execId": "r1"}
    request = asyncio.ensure_future(
        helper.lsp.protocol.send_request_async(Method.RUN_ATTACH, attach, msg_id="agent-attach")
    )
    await helper.wait_note(
        Notification.EXEC_OUTPUT, lambda p: p["execId"] == "r1" and p["data"] == "ready\n"
    )
    helper.lsp.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="agent-attach"))
    with pytest.raises(Exception) as caught:
        await asyncio.wait_for(request, 5)
    assert getattr(caught.value, "code", None) == -32800

    async def state() -> str:
        runs = (await helper.request(Method.RUNS, {"profile": PROFILE}))["runs"]
        return str(next(run["state"] for run in runs if run["id"] == run_id))

    deadline = time.monotonic() + 10
    while await state() != "exited":
        assert time.monotonic() < deadline, "the attached run was not interrupted"
        await asyncio.sleep(0.1)
    assert_only_agent_connected(helper, agent, shared_runtime)
