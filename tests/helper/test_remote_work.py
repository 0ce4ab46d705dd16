"""End to end: the helper as a subprocess over stdio, a real runtime, a directly written profile."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from colablink.helper.protocol import Method, Notification
from colablink_runtime import procs
from lsprotocol import types
from support.runtimes import RuntimeHandle
from support.system import wait_for

from .conftest import PROFILE, Workspace, connect_profile, write_profile
from .lspclient import HelperClient
from .remote import remote_sleeps


async def connect(helper: HelperClient, ws: Workspace, handle: RuntimeHandle) -> Any:
    write_profile(ws, handle)
    return await connect_profile(helper, ws)


async def test_connect_to_a_profile_then_status_is_connected(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    status = await connect(helper, workspace, shared_runtime)
    assert status["state"] == "connected"
    result = await helper.request(Method.STATUS, {})
    [profile] = result["profiles"]
    assert profile["profile"] == PROFILE
    assert profile["state"] == "connected"
    assert profile["port"] == shared_runtime.port
    assert isinstance(profile["latencyMs"], float)
    await helper.wait_note(
        Notification.STATUS_CHANGED, lambda p: p["status"]["state"] == "connected"
    )


async def test_exec_streams_each_stream_in_order_and_returns_the_exit_code(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    await connect(helper, workspace, shared_runtime)
    script = (
        "import sys\n"
        "for i in range(200):\n"
        "    print(f'out {i}', flush=True)\n"
        "    print(f'err {i}', file=sys.stderr, flush=True)\n"
        "sys.exit(7)\n"
    )
    params = {"profile": PROFILE, "execId": "e1", "argv": ["python3", "-c", script]}
    result = await helper.request(Method.EXEC, params)
    assert result == {"exitCode": 7}
    chunks = [p for p in helper.notes_of(Notification.EXEC_OUTPUT) if p["execId"] == "e1"]
    out = "".join(p["data"] for p in chunks if p["stream"] == "stdout")
    err = "".join(p["data"] for p in chunks if p["stream"] == "stderr")
    assert out == "".join(f"out {i}\n" for i in range(200))
    assert err == "".join(f"err {i}\n" for i in range(200))


async def test_cancel_interrupts_the_remote_process(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    await connect(helper, workspace, shared_runtime)
    params = {"profile": PROFILE, "execId": "s1", "argv": ["sleep", "100"]}
    request = asyncio.ensure_future(
        helper.lsp.protocol.send_request_async(Method.EXEC, params, msg_id="sleeper")
    )
    await asyncio.to_thread(
        wait_for, lambda: remote_sleeps(shared_runtime.username), 15, "the remote sleep"
    )
    started = time.monotonic()
    helper.lsp.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="sleeper"))
    try:
        await asyncio.wait_for(request, 5)
        raise AssertionError("a cancelled exec must not succeed")
    except Exception as exc:  # pygls raises the JSON-RPC error of the reply
        assert getattr(exc, "code", None) == -32800, exc
    await asyncio.to_thread(
        wait_for, lambda: not remote_sleeps(shared_runtime.username), 2, "the sleep to end"
    )
    assert time.monotonic() - started < 2.0


async def test_pty_reports_its_size_and_sees_a_resize(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    await connect(helper, workspace, shared_runtime)
    opened = await helper.request(Method.PTY_OPEN, {"profile": PROFILE, "cols": 97, "rows": 31})
    pty_id = opened["ptyId"]

    await helper.request(Method.PTY_INPUT, {"ptyId": pty_id, "data": "stty size\n"})
    await helper.wait_note(Notification.PTY_OUTPUT, lambda _: "31 97" in helper.screen(pty_id))
    # Keystrokes sent without waiting for each other arrive in order.
    typed = "echo typed-$((6*7))-in-order\n"
    await asyncio.gather(
        *(helper.request(Method.PTY_INPUT, {"ptyId": pty_id, "data": ch}) for ch in typed)
    )
    await helper.wait_note(
        Notification.PTY_OUTPUT, lambda _: "typed-42-in-order" in helper.screen(pty_id)
    )
    await helper.request(Method.PTY_RESIZE, {"ptyId": pty_id, "cols": 120, "rows": 40})
    await helper.request(Method.PTY_INPUT, {"ptyId": pty_id, "data": "stty size; exit 3\n"})
    await helper.wait_note(Notification.PTY_OUTPUT, lambda _: "40 120" in helper.screen(pty_id))
    ended = await helper.wait_note(Notification.PTY_EXIT, lambda p: p["ptyId"] == pty_id)
    assert ended["exitCode"] == 3


async def test_a_shell_has_the_environment_runs_get(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    profile = write_profile(workspace, shared_runtime)
    await connect_profile(helper, workspace)
    opened = await helper.request(Method.PTY_OPEN, {"profile": PROFILE, "cols": 100, "rows": 30})
    pty_id = opened["ptyId"]
    line = 'echo "out=[$COLABLINK_OUTPUT_DIR] unbuffered=[$PYTHONUNBUFFERED] pwd=[$(pwd)]"\n'
    await helper.request(Method.PTY_INPUT, {"ptyId": pty_id, "data": line})
    expected = f"out=[{profile.remote_conn_dir}] unbuffered=[1] pwd=[{shared_runtime.remote_root}]"
    await helper.wait_note(Notification.PTY_OUTPUT, lambda _: expected in helper.screen(pty_id))
    await helper.request(Method.PTY_CLOSE, {"ptyId": pty_id})


async def test_flush_resolves_once_the_remote_file_matches(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    await connect(helper, workspace, shared_runtime)
    name = f"flushed-{workspace.base.name}.bin"
    local = workspace.project / name
    remote = Path(shared_runtime.remote_root) / name
    for round_ in range(3):
        content = bytes([round_]) * (4 << 20)
        local.write_bytes(content)
        await helper.request(Method.FLUSH, {"profile": PROFILE, "paths": [str(local)]})
        assert remote.read_bytes() == content


async def test_sync_now_reports_progress(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    await connect(helper, workspace, shared_runtime)
    (workspace.project / f"new-{workspace.base.name}.py").write_text("print('hi')\n")
    result = await helper.request(Method.SYNC_NOW, {"profile": PROFILE})
    assert set(result) == {"pushed", "pulled"}
    reports = [r for r in helper.lsp.progress_reports.values() if r]
    assert reports, "no $/progress at all"
    [steps] = reports
    kinds = [step.kind for step in steps]
    assert kinds[0] == "begin" and kinds[-1] == "end"
    assert "report" in kinds

    # A token the client made itself is used as given.
    helper.lsp.progress_reports.setdefault("client-token", [])
    await helper.request(Method.SYNC_NOW, {"profile": PROFILE, "workDoneToken": "client-token"})
    kinds = [step.kind for step in helper.lsp.progress_reports["client-token"]]
    assert kinds[0] == "begin" and kinds[-1] == "end" and "report" in kinds


async def test_a_remote_output_is_announced_and_listed(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    await connect(helper, workspace, shared_runtime)
    line = 'mkdir -p "$COLABLINK_OUTPUT_DIR" && echo result > "$COLABLINK_OUTPUT_DIR/metrics.txt"'
    done = await helper.request(
        Method.EXEC, {"profile": PROFILE, "execId": "w1", "commandLine": line}
    )
    assert done == {"exitCode": 0}
    changed = await helper.wait_note(
        Notification.OUTPUTS_CHANGED, lambda p: "metrics.txt" in p["paths"], timeout=20
    )
    assert changed["profile"] == PROFILE
    listing = await helper.request(Method.OUTPUTS, {"profile": PROFILE})
    [entry] = [e for e in listing["entries"] if e["name"] == "metrics.txt"]
    assert entry["kind"] == "file" and entry["size"] == len("result\n")


async def test_exec_runs_in_the_source_root_or_the_given_cwd(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    await connect(helper, workspace, shared_runtime)
    sub = f"sub-{workspace.base.name}"
    (Path(shared_runtime.remote_root) / sub).mkdir()
    (Path(shared_runtime.remote_root) / sub).chmod(0o777)
    for exec_id, extra, expected in (
        ("root", {}, shared_runtime.remote_root),
        ("cwd", {"cwd": sub}, f"{shared_runtime.remote_root}/{sub}"),
    ):
        params = {
            "profile": PROFILE,
            "execId": exec_id,
            "commandLine": "pwd; echo $PYTHONUNBUFFERED",
        }
        assert await helper.request(Method.EXEC, {**params, **extra}) == {"exitCode": 0}
        out = "".join(
            p["data"] for p in helper.notes_of(Notification.EXEC_OUTPUT) if p["execId"] == exec_id
        )
        assert out == f"{expected}\n1\n"


async def test_execs_share_one_long_lived_supervisor_on_the_runtime(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    await connect(helper, workspace, shared_runtime)
    parents: list[int] = []
    for exec_id in ("p1", "p2"):
        params = {"profile": PROFILE, "execId": exec_id, "commandLine": "echo $PPID"}
        assert await helper.request(Method.EXEC, params) == {"exitCode": 0}
        out = "".join(
            p["data"] for p in helper.notes_of(Notification.EXEC_OUTPUT) if p["execId"] == exec_id
        )
        parents.append(int(out))
    # One process started each command (a new SSH channel would give each its own sshd child),
    # and it is the supervisor: python3 running the source it was sent, in its own session.
    assert parents[0] == parents[1]
    assert procs.cmdline_of(parents[0])[1:3] == ["-S", "-c"]
    assert "--supervise" in procs.cmdline_of(parents[0])


async def test_disconnect_ends_the_profiles_shells_without_a_status(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    await connect(helper, workspace, shared_runtime)
    opened = await helper.request(Method.PTY_OPEN, {"profile": PROFILE, "cols": 80, "rows": 24})
    await helper.request(Method.DISCONNECT, {"profile": PROFILE})
    ended = await helper.wait_note(Notification.PTY_EXIT, lambda p: p["ptyId"] == opened["ptyId"])
    # -1: the shell gave no status of its own; the editor says why in its own words.
    assert ended["exitCode"] == -1


async def test_status_carries_the_runtimes_resources_and_refreshes_them(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    status = await connect(helper, workspace, shared_runtime)
    resources = status["resources"]
    assert resources is not None
    assert resources["ramTotalBytes"] > 0 and resources["ramAvailableBytes"] > 0
    assert resources["ramAvailableBytes"] <= resources["ramTotalBytes"]
    assert resources["diskTotalBytes"] > 0 and resources["diskFreeBytes"] > 0
    # No GPU on this machine: unknown, not zero.
    assert resources["gpuMemoryTotalMib"] is None and resources["gpuUtilizationPct"] is None
    # The periodic probe keeps running while connected: RAM moves, so statusChanged follows.
    first = len(helper.notes_of(Notification.STATUS_CHANGED))
    await helper.wait_note(
        Notification.STATUS_CHANGED,
        lambda _: len(helper.notes_of(Notification.STATUS_CHANGED)) > first,
        timeout=20,
    )
