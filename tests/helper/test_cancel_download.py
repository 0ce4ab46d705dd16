"""Cancelling the helper's download stops it for real, on the window's connection or the agent's.

The runtime's file is large and sparse, so the download is caught mid-way. Cancelled by
``$/cancelRequest`` or by its progress's cancel button (``window/workDoneProgress/cancel``), on
the window's connection and through the agent, the request must be answered (-32800)
quickly, with no temporary left here, no tar left on the runtime and the destination as it was.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import time
from pathlib import Path

import pytest
from colablink.helper.protocol import Method
from colablink_runtime import procs
from lsprotocol import types
from support.runtimes import RuntimeHandle
from support.system import pids_of_user, wait_for

from .conftest import PROFILE, Workspace, connect_profile, write_profile
from .lspclient import HelperClient, start_helper
from .test_agent_reuse import agent

# The contract is 1 s; this box is shared by several test runs, so allow for its load.
ANSWER_S = 2.0
BIG = 8 << 30  # sparse on the runtime; it cannot come down within the test


def big_remote_file(runtime: RuntimeHandle, name: str) -> Path:
    source = Path(runtime.remote_root) / name
    with source.open("wb") as f:
        f.truncate(BIG)
    account = pwd.getpwnam(runtime.username)
    os.chown(source, account.pw_uid, account.pw_gid)
    return source


def partial(directory: Path) -> bool:
    return any(
        (tmp / "x").exists() and (tmp / "x").stat().st_size > (4 << 20)
        for tmp in directory.glob(".colablink-down.*")
    )


def remote_tars(username: str) -> bool:
    return any(procs.cmdline_of(pid)[:1] == ["tar"] for pid in pids_of_user(username))


def downloading(helper: HelperClient) -> str:
    """The token of the download's progress, which the helper created with a cancel button."""
    for token, values in helper.lsp.progress_reports.items():
        if values and values[0].kind == "begin" and "downloading" in values[0].title:
            assert values[0].cancellable
            return str(token)
    raise AssertionError("the download reports no progress")


def reported(helper: HelperClient, token: str) -> bool:
    values = helper.lsp.progress_reports[token]
    return any(v.kind == "report" and v.percentage is not None for v in values)


@pytest.fixture(params=["window", "agent"])
def holder(request: pytest.FixtureRequest) -> str:
    """Who holds the profile's connection: the helper itself, or a running `colablink watch`."""
    if request.param == "agent":
        request.getfixturevalue(agent.__name__)
    return str(request.param)


@pytest.mark.parametrize("by", ["request", "progress"])
async def test_cancelling_a_download_leaves_nothing(
    holder: str, by: str, helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    write_profile(workspace, shared_runtime)
    await connect_profile(helper, workspace)
    source = big_remote_file(shared_runtime, f"big-{holder}-{workspace.base.name}.bin")
    here = workspace.base / "here"
    here.mkdir()
    (here / source.name).write_text("old")

    params = {"profile": PROFILE, "remotePath": source.name, "localPath": f"{here}/"}
    request = asyncio.ensure_future(
        helper.lsp.protocol.send_request_async(Method.DOWNLOAD, params, msg_id="big-download")
    )
    try:
        await asyncio.to_thread(wait_for, lambda: partial(here), 30, "the download under way")
        token = downloading(helper)
        await asyncio.to_thread(
            wait_for, lambda: reported(helper, token), 5, "the download's progress reports"
        )
        started = time.monotonic()
        if by == "request":
            helper.lsp.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="big-download"))
        else:
            cancel = types.WorkDoneProgressCancelParams(token=token)
            helper.lsp.protocol.notify(types.WINDOW_WORK_DONE_PROGRESS_CANCEL, cancel)
        with pytest.raises(Exception) as caught:
            await asyncio.wait_for(request, 10)
        answered = time.monotonic() - started
        print(f"{holder}: cancel answered in {answered:.2f} s")
        assert getattr(caught.value, "code", None) == -32800, caught.value
        assert answered < ANSWER_S
        assert not list(here.glob(".colablink-down.*"))
        assert (here / source.name).read_text() == "old"
        await asyncio.to_thread(
            wait_for, lambda: not remote_tars(shared_runtime.username), 2, "the remote tar to end"
        )
        # Nothing lands later either, once the transfer's last byte could have come in.
        assert not list(here.glob(".colablink-down.*"))
        assert (here / source.name).read_text() == "old"
    finally:
        request.cancel()
        source.unlink()


async def test_the_client_leaving_mid_download_leaves_nothing(
    workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    helper = await start_helper(workspace.env, workspace.project)
    write_profile(workspace, shared_runtime)
    await connect_profile(helper, workspace)
    source = big_remote_file(shared_runtime, f"big-eof-{workspace.base.name}.bin")
    here = workspace.base / "here"
    here.mkdir()
    params = {"profile": PROFILE, "remotePath": source.name, "localPath": f"{here}/"}
    pending = asyncio.ensure_future(helper.request(Method.DOWNLOAD, params))
    try:
        await asyncio.to_thread(wait_for, lambda: partial(here), 30, "the download under way")
        server = helper.lsp._server
        assert server is not None and server.stdin is not None
        started = time.monotonic()
        server.stdin.close()
        await asyncio.wait_for(server.wait(), 5)
        elapsed = time.monotonic() - started
        print(f"the helper exited {elapsed:.2f} s after its stdin closed")
        assert elapsed < ANSWER_S
        assert not list(here.iterdir())
        await asyncio.to_thread(
            wait_for, lambda: not remote_tars(shared_runtime.username), 2, "the remote tar to end"
        )
    finally:
        pending.cancel()
        await helper.lsp.stop()
        source.unlink()
