"""The helper's ends and its idle cost: EOF mid-exec, shutdown flushing, a changed host key."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import pytest
from colablink.helper.protocol import ErrorCode, Method, Notification
from colablink_runtime import procs
from support.runtimes import RuntimeHandle
from support.system import wait_for

from .conftest import PROFILE, Workspace, connect_profile, write_profile
from .lspclient import HelperClient, start_helper
from .remote import remote_sleeps

OTHER_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKkE6Sx1Nn3ZVw6gBvY+Yo7mWqzXgU0jtqg0bP3aXfVq"


async def test_stdin_eof_mid_exec_exits_fast_and_leaves_the_run_to_finish(
    workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    # A window that closes or reloads is no interrupt: the run goes on under the supervisor.
    helper = await start_helper(workspace.env, workspace.project)
    write_profile(workspace, shared_runtime)
    await connect_profile(helper, workspace)
    params = {"profile": PROFILE, "execId": "eof", "argv": ["sleep", "4"]}
    pending = asyncio.ensure_future(helper.request(Method.EXEC, params))
    await asyncio.to_thread(
        wait_for, lambda: remote_sleeps(shared_runtime.username, "4"), 15, "the remote sleep"
    )
    server = helper.lsp._server
    assert server is not None and server.stdin is not None
    pid = server.pid
    started = time.monotonic()
    server.stdin.close()
    await asyncio.wait_for(server.wait(), 5)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"the helper took {elapsed:.2f} s to exit"
    assert not procs.alive(pid) or procs.is_zombie(pid)
    assert procs.children_of(pid) == []
    assert remote_sleeps(shared_runtime.username, "4") != []
    pending.cancel()
    await asyncio.to_thread(
        wait_for, lambda: not remote_sleeps(shared_runtime.username, "4"), 15, "the run to finish"
    )
    await helper.lsp.stop()


async def test_after_a_restart_a_run_in_progress_is_listed_and_attached_from_its_start(
    workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    # What a window reload does to the helper: the next one lists the run and shows all of it.
    first = await start_helper(workspace.env, workspace.project)
    write_profile(workspace, shared_runtime)
    await connect_profile(first, workspace)
    lines = 120  # a numbered line every 50 ms: 6 s, for a restart on a loaded machine
    script = (
        f"import time\nfor i in range({lines}):\n print(i, flush=True); time.sleep(0.05)\n"
        "raise SystemExit(3)"
    )
    params = {"profile": PROFILE, "execId": "long", "argv": ["python3", "-c", script]}
    pending = asyncio.ensure_future(first.request(Method.EXEC, params))
    await first.wait_note(Notification.EXEC_OUTPUT, lambda p: p["execId"] == "long")
    server = first.lsp._server
    assert server is not None and server.stdin is not None
    server.stdin.close()
    await asyncio.wait_for(server.wait(), 5)
    pending.cancel()
    await first.lsp.stop()

    second = await start_helper(workspace.env, workspace.project)
    try:
        await connect_profile(second, workspace)
        listed = (await second.request(Method.RUNS, {"profile": PROFILE}))["runs"]
        going = [
            run
            for run in listed
            if run["state"] == "running" and f"range({lines})" in run["command"]
        ]
        assert len(going) == 1, listed
        attach = {"profile": PROFILE, "runId": going[0]["id"], "execId": "again"}
        assert await second.request(Method.RUN_ATTACH, attach) == {"exitCode": 3}
        out = "".join(
            p["data"] for p in second.notes_of(Notification.EXEC_OUTPUT) if p["execId"] == "again"
        )
        assert out == "".join(f"{i}\n" for i in range(lines))
        (done,) = [
            run
            for run in (await second.request(Method.RUNS, {"profile": PROFILE}))["runs"]
            if run["id"] == going[0]["id"]
        ]
        assert (done["state"], done["exitCode"]) == ("exited", 3)
    finally:
        await second.lsp.shutdown_session()  # type: ignore[attr-defined]
        await second.lsp.stop()


async def test_shutdown_flushes_pending_pushes_before_closing(
    workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    helper = await start_helper(workspace.env, workspace.project)
    write_profile(workspace, shared_runtime)
    await connect_profile(helper, workspace)
    name = f"last-save-{workspace.base.name}.txt"
    content = "saved right before closing\n" * 1000
    (workspace.project / name).write_text(content)
    await helper.lsp.shutdown_session()  # type: ignore[attr-defined]
    await helper.lsp.stop()
    assert (Path(shared_runtime.remote_root) / name).read_text() == content


async def test_a_changed_host_key_gives_its_error_code(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    profile = write_profile(workspace, shared_runtime)
    profile.host_keys = [OTHER_HOST_KEY]
    workspace.store.save(profile)
    with pytest.raises(Exception) as caught:
        await connect_profile(helper, workspace)
    assert getattr(caught.value, "code", None) == ErrorCode.HOST_KEY_MISMATCH
    assert "\n" not in str(getattr(caught.value, "message", ""))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _git_project(root: Path) -> None:
    """A real repository with nested ignore files: reading them must not start a pass."""
    (root / "a.py").write_text("x = 1\n")
    (root / ".gitignore").write_text("*.log\n")
    (root / "pkg").mkdir()
    (root / "pkg" / ".gitignore").write_text("!keep.log\n")
    (root / "pkg" / "keep.log").write_text("kept\n")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "tree"], check=True)


async def test_idle_with_a_connected_profile_costs_no_cpu(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    _git_project(workspace.project)
    write_profile(workspace, shared_runtime)
    await connect_profile(helper, workspace)
    await helper.request(Method.SYNC_NOW, {"profile": PROFILE})
    await asyncio.sleep(1)
    before = _cpu_seconds(helper.pid)
    await asyncio.sleep(10)
    used = _cpu_seconds(helper.pid) - before
    rss = _rss_mib(helper.pid)
    print(f"helper idle: {used:.3f} s CPU over 10 s, RSS {rss:.1f} MiB")
    assert used <= 0.1, f"the idle helper used {used:.2f} s of CPU in 10 s"
    assert rss <= 80, f"the helper's RSS is {rss:.1f} MiB"
