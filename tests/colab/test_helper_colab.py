"""Connect's Colab option over JSON-RPC: sessions, a new runtime, compute units, Stop Runtime.

`colab new`, `colab usage` and `colab stop` talk to Google's account APIs, out of reach here: a
stand-in at the process boundary answers them (recording each call) and hands `colab ssh` to the
real client, which reaches the endpoint stand-in.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest_asyncio
from colablink.daemon import client as daemon_client
from colablink.helper.protocol import ErrorCode, Method
from helper.lspclient import HelperClient, start_helper
from helper.rawclient import helper_env
from pygls.exceptions import JsonRpcException

from .conftest import Channel
from .standin import SESSION

ACCOUNT_STANDIN = """\
import json, os, pathlib, sys
state = pathlib.Path(os.environ["HOME"], ".config", "colab-cli", "sessions.json")
sessions = json.loads(state.read_text()) if state.exists() else {}
with open(os.environ["STANDIN_CALLS"], "a") as calls:
    calls.write(" ".join(sys.argv[1:]) + "\\n")
def arg(flag):
    return sys.argv[sys.argv.index(flag) + 1] if flag in sys.argv else None
if sys.argv[1:2] == ["new"]:
    accelerator = arg("--gpu") or arg("--tpu") or "NONE"
    sessions[arg("-s")] = {**json.loads(os.environ["STANDIN_SESSION"]), "name": arg("-s"),
                           "accelerator": accelerator}
    state.write_text(json.dumps(sessions))
    sys.exit(print("Created", arg("-s")))
if sys.argv[1:2] == ["usage"]:
    print("Current balance: 12.50 compute units\\nUsage rate: 1.76/hr")
    sys.exit(print("Active assignments: 1"))
if sys.argv[1:2] == ["stop"]:
    sessions.pop(arg("-s"))
    state.write_text(json.dumps(sessions))
    sys.exit(print("Stopped", arg("-s")))
os.execv(os.environ["REAL_COLAB"], [os.environ["REAL_COLAB"], *sys.argv[1:]])
"""


@pytest_asyncio.fixture
async def colab_helper(channel: Channel) -> AsyncIterator[tuple[HelperClient, dict[str, str]]]:
    # Short: the unix socket paths under it must fit in 108 bytes.
    base = Path(tempfile.mkdtemp(prefix="clc-"))
    (base / "project").mkdir()
    standin = base / "bin" / "colab"
    standin.parent.mkdir()
    standin.write_text(f"#!{sys.executable}\n{ACCOUNT_STANDIN}")
    standin.chmod(0o755)
    state = json.loads((channel.home / ".config" / "colab-cli" / "sessions.json").read_text())
    env = {
        **helper_env(base),
        "HOME": str(channel.home),
        "PATH": f"{standin.parent}{os.pathsep}{os.environ['PATH']}",
        "STANDIN_SESSION": json.dumps(state[SESSION]),
        "STANDIN_CALLS": str(base / "calls"),
        "REAL_COLAB": str(channel.cli),
    }
    client = await start_helper(env, base / "project")
    try:
        yield client, env
    finally:
        await client.lsp.shutdown_session()  # type: ignore[attr-defined]
        await client.lsp.stop()


async def test_new_runtime_connects_reports_units_and_stops_after_pulling(
    colab_helper: tuple[HelperClient, dict[str, str]], channel: Channel
) -> None:
    helper, env = colab_helper
    project = Path(env["COLABLINK_CONFIG_DIR"]).parent / "project"
    listed = await helper.request(Method.COLAB_SESSIONS, {})
    assert listed == {"sessions": [{"session": SESSION, "accelerator": "NONE"}]}

    helper.lsp.progress_reports.setdefault("colab-steps", [])
    rt = channel.runtime
    status = await helper.request(
        Method.CONNECT_COLAB,
        {"workspaceRoot": str(project), "new": True, "accelerator": "T4",
         "username": rt.username, "remoteRoot": rt.remote_root, "workDoneToken": "colab-steps"},
        timeout=90,
    )  # fmt: skip
    assert status["state"] == "connected"
    assert status["colab"] == {"session": "colablink", "accelerator": "T4"}
    steps = [v.message for v in helper.lsp.progress_reports["colab-steps"] if v.kind == "report"]
    assert steps[0] == "starting a T4 runtime (colablink); this can take minutes"
    assert "reaching Colab session colablink and pinning its host key" in steps

    # The window holds the one connection: OpenSSH rides it, the endpoint sees no second one.
    held = channel.endpoint.connections
    for _ in range(2):
        ssh = await asyncio.to_thread(
            subprocess.run,
            ["ssh", "-F", env["COLABLINK_SSH_CONFIG"], "-o", "BatchMode=yes", "colablink-default",
             'echo "$SSH_CONNECTION"'],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert ssh.returncode == 0, ssh.stderr
        # sshd saw this login arrive from its own side of the held connection.
        assert ssh.stdout.split()[2:] == [ssh.stdout.split()[0], str(rt.port)]
    assert channel.endpoint.connections == held

    usage = await helper.request(Method.COLAB_USAGE, {"profile": "default"})
    assert usage == {"balance": 12.5, "ratePerHour": 1.76}

    # What the runtime wrote comes home before the runtime goes.
    ran = await helper.request(
        Method.EXEC,
        {"profile": "default", "execId": "w", "argv": ["sh", "-c", 'echo 42 > "$0/loss.txt"',
                                                       status["remoteDir"]]},
    )  # fmt: skip
    assert ran == {"exitCode": 0}
    stopped = await helper.request(Method.STOP_RUNTIME, {"profile": "default"}, timeout=90)
    assert stopped["session"] == "colablink"
    assert (Path(status["localDir"]) / "loss.txt").read_text() == "42\n"
    calls = Path(env["STANDIN_CALLS"]).read_text().splitlines()
    assert calls[0] == "new -s colablink --gpu T4"
    assert calls[-1] == "stop -s colablink"
    [after] = (await helper.request(Method.STATUS, {}))["profiles"]
    assert after["state"] == "disconnected"
    assert channel.endpoint.refused == []


async def test_the_colab_option_without_the_client_or_its_login_says_what_to_do(
    colab_helper: tuple[HelperClient, dict[str, str]], channel: Channel
) -> None:
    helper, env = colab_helper
    missing = str(Path(env["COLABLINK_CONFIG_DIR"]).parent / "nowhere" / "colab")
    try:
        await helper.request(Method.COLAB_SESSIONS, {"colabCli": missing})
    except JsonRpcException as exc:
        assert exc.code == ErrorCode.USAGE
        assert "pipx install google-colab-cli" in exc.message
    else:
        raise AssertionError("a missing client was not refused")
    (channel.home / ".config" / "colab-cli" / "token.json").unlink()
    try:
        await helper.request(Method.COLAB_SESSIONS, {})
    except JsonRpcException as exc:
        assert "not logged in" in exc.message
    else:
        raise AssertionError("a client without its login was not refused")


async def test_watch_rides_the_window_until_it_hands_the_profile_over(channel: Channel) -> None:
    base = Path(tempfile.mkdtemp(prefix="clw-"))
    project = base / "project"
    project.mkdir()
    env = {**helper_env(base), "HOME": str(channel.home)}
    agent = Path(env["COLABLINK_RUNTIME_DIR"]) / "agent-default.sock"
    rt = channel.runtime

    def colablink(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "colablink", *args],
            env=env, cwd=project, capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip

    def synced_by_watch(name: str) -> None:
        (project / name).write_text(name)
        client = daemon_client.connect(str(agent))
        assert client is not None, "the agent is not up"
        with client:
            client.call({"op": "sync_now"})
        shown = colablink("exec", "cat", f"{rt.remote_root}/{name}")
        assert (shown.returncode, shown.stdout) == (0, name), shown.stderr

    async def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "the window did not hand the profile over"
            await asyncio.sleep(0.1)

    async def close_window() -> None:
        await helper.lsp.shutdown_session()  # type: ignore[attr-defined]
        await helper.lsp.stop()

    helper = await start_helper(env, project)
    watch: subprocess.Popen[bytes] | None = None
    try:
        status = await helper.request(
            Method.CONNECT_COLAB,
            {"workspaceRoot": str(project), "session": SESSION, "colabCli": str(channel.cli),
             "username": rt.username, "remoteRoot": rt.remote_root},
            timeout=90,
        )  # fmt: skip
        assert status["state"] == "connected"
        held = channel.endpoint.connections
        watch = subprocess.Popen(
            [sys.executable, "-m", "colablink", "watch"],
            env=env, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert watch.stdout is not None and watch.stderr is not None
        line = await asyncio.to_thread(watch.stdout.readline)
        assert b"is up" in line, watch.stderr.read()
        await asyncio.to_thread(synced_by_watch, "while-the-window-holds.txt")
        # Until the window hands over, the daemon's session rides the window's: no 429.
        assert channel.endpoint.refused == []

        # The window hands the profile over: its connection ends, the daemon's own replaces it.
        await wait_for(lambda: channel.endpoint.connections == held + 1)
        await asyncio.to_thread(synced_by_watch, "after-the-hand-over.txt")
        await close_window()
        await asyncio.to_thread(synced_by_watch, "after-the-window.txt")
        assert channel.endpoint.connections == held + 1
        assert channel.endpoint.refused == []
    finally:
        if watch is not None:
            watch.send_signal(signal.SIGINT)
            watch.wait(timeout=20)
        if not helper.lsp.stopped:
            await close_window()
