"""A dropped link shows as "reconnecting in N s" and comes back by itself."""

from __future__ import annotations

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
