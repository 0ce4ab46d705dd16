"""A dropped link shows as "reconnecting in N s" and comes back by itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from colablink.helper.protocol import Method, Notification
from support.runtimes import RuntimeHandle

from bench.delay_proxy import DelayProxy

from .conftest import PROFILE, Workspace, connect_profile, write_profile
from .lspclient import HelperClient


@pytest.fixture
def proxy(shared_runtime: RuntimeHandle) -> Iterator[DelayProxy]:
    with DelayProxy(shared_runtime.host, shared_runtime.port, delay=0.001) as proxy:
        yield proxy


async def test_a_drop_is_announced_as_reconnecting_and_recovers(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle, proxy: DelayProxy
) -> None:
    profile = write_profile(workspace, shared_runtime)
    profile.port = proxy.port
    workspace.store.save(profile)
    assert (await connect_profile(helper, workspace))["state"] == "connected"
    await helper.wait_note(
        Notification.STATUS_CHANGED, lambda p: p["status"]["syncState"] == "idle", timeout=20
    )
    helper.notes.clear()
    proxy.cut()
    reconnecting = await helper.wait_note(
        Notification.STATUS_CHANGED,
        lambda p: p["status"]["state"] == "reconnecting" and p["status"]["retryInSeconds"],
        timeout=20,
    )
    assert reconnecting["status"]["syncState"] == "retrying"
    await helper.wait_note(
        Notification.STATUS_CHANGED,
        lambda p: p["status"]["state"] == "connected" and p["status"]["syncState"] == "idle",
        timeout=30,
    )
    result = await helper.request(
        Method.EXEC, {"profile": PROFILE, "execId": "after", "argv": ["true"]}
    )
    assert result == {"exitCode": 0}


async def test_an_exec_rides_out_three_cuts_with_every_line_once(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle, proxy: DelayProxy
) -> None:
    profile = write_profile(workspace, shared_runtime)
    profile.port = proxy.port
    workspace.store.save(profile)
    assert (await connect_profile(helper, workspace))["state"] == "connected"
    lines = 80  # a numbered line every 50 ms: 4 s
    script = (
        f"import time\nfor i in range({lines}):\n print(i, flush=True); time.sleep(0.05)\n"
        "raise SystemExit(7)"
    )
    params = {"profile": PROFILE, "execId": "cut", "argv": ["python3", "-c", script]}

    async def cuts() -> None:
        for _ in range(3):
            await asyncio.sleep(1.0)
            proxy.cut()

    result, _ = await asyncio.gather(helper.request(Method.EXEC, params), cuts())
    assert result == {"exitCode": 7}
    assert proxy.cuts >= 3
    out = "".join(
        p["data"] for p in helper.notes_of(Notification.EXEC_OUTPUT) if p["execId"] == "cut"
    )
    assert out == "".join(f"{i}\n" for i in range(lines))
