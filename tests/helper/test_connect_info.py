"""Connecting with the connection info the runtime printed: ``init`` semantics over JSON-RPC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from colablink.helper.protocol import ErrorCode, Method, Notification
from support.runtimes import RuntimeHandle

from .conftest import Workspace
from .lspclient import HelperClient


def connect_params(workspace: Workspace, info: dict[str, object], profile: str) -> dict:
    return {
        "connectionInfo": json.dumps(info),
        "profile": profile,
        "workspaceRoot": str(workspace.project),
    }


async def test_connect_with_the_runtime_json_then_status_is_connected(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    status = await helper.request(
        Method.CONNECT, connect_params(workspace, shared_runtime.info, "fromjson")
    )
    assert status["state"] == "connected"
    [profile] = (await helper.request(Method.STATUS, {}))["profiles"]
    assert profile["profile"] == "fromjson"
    assert profile["state"] == "connected"
    assert profile["host"] == shared_runtime.host and profile["port"] == shared_runtime.port
    assert "password" not in workspace.store.load("fromjson").to_dict()
    assert helper.lens_refreshes >= 1, "lenses must be refreshed once the workspace has a profile"

    host = await helper.request(Method.SSH_HOST, {"profile": "fromjson"})
    assert host["alias"] == "colablink-fromjson"
    assert host["remoteRoot"] == shared_runtime.remote_root
    config = (workspace.base / "ssh_config").read_text()
    assert "Host colablink-fromjson" in config
    assert host["configFile"] == str(workspace.base / "ssh_config")

    # Stopping the window's sync leaves the records its first pass wrote; forgetting the
    # profile removes them too. Connect returns once the sync starts, not once it has run.
    await helper.wait_note(
        Notification.STATUS_CHANGED, lambda p: p["status"]["syncState"] == "idle", timeout=20
    )
    await helper.request(Method.DISCONNECT, {"profile": "fromjson"})
    config_dir = Path(workspace.env["COLABLINK_CONFIG_DIR"])
    assert (config_dir / "sync" / "fromjson.json").is_file()
    await helper.request(Method.DISCONNECT, {"profile": "fromjson", "forget": True})
    assert (await helper.request(Method.STATUS, {}))["profiles"] == []
    traces = [
        path
        for path in config_dir.rglob("*")
        if path.is_file() and "fromjson" in f"{path.name}\n{path.read_text(errors='replace')}"
    ]
    assert traces == []


async def test_a_wrong_password_gives_its_error_code(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    info = {**shared_runtime.info, "password": "not-the-password"}
    with pytest.raises(Exception) as caught:
        await helper.request(Method.CONNECT, connect_params(workspace, info, "badpw"))
    assert getattr(caught.value, "code", None) == ErrorCode.AUTH_FAILED, caught.value
    assert not workspace.store.exists("badpw")


async def test_a_changed_host_key_in_the_info_gives_its_error_code(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    from .test_lifecycle import OTHER_HOST_KEY

    info = {**shared_runtime.info, "host_keys": [OTHER_HOST_KEY]}
    with pytest.raises(Exception) as caught:
        await helper.request(Method.CONNECT, connect_params(workspace, info, "badkey"))
    assert getattr(caught.value, "code", None) == ErrorCode.HOST_KEY_MISMATCH, caught.value


async def test_bad_connection_info_gives_its_error_code(
    helper: HelperClient, workspace: Workspace
) -> None:
    params = {"connectionInfo": "{not json", "workspaceRoot": str(workspace.project)}
    with pytest.raises(Exception) as caught:
        await helper.request(Method.CONNECT, params)
    assert getattr(caught.value, "code", None) == ErrorCode.BAD_CONNECTION_INFO


async def test_check_connection_info_parses_without_connecting(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    checked = await helper.request(
        Method.CHECK_CONNECTION_INFO, {"connectionInfo": json.dumps(shared_runtime.info)}
    )
    assert checked == {
        "host": shared_runtime.host,
        "port": shared_runtime.port,
        "username": shared_runtime.username,
    }
    for garbage in ("hello", "{not json", '{"host": "h"}', "clk1.AAAA"):
        with pytest.raises(Exception) as caught:
            await helper.request(Method.CHECK_CONNECTION_INFO, {"connectionInfo": garbage})
        assert getattr(caught.value, "code", None) == ErrorCode.BAD_CONNECTION_INFO, garbage
        assert "Connection info is not valid" in str(caught.value)
    # Parsing touched nothing: no profile, key or config was written.
    assert workspace.store.names() == []
    assert not (workspace.base / "ssh_config").exists()


async def test_connect_reports_each_step_on_the_clients_token(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    helper.lsp.progress_reports.setdefault("connect-steps", [])
    params = {
        **connect_params(workspace, shared_runtime.info, "steps"),
        "workDoneToken": "connect-steps",
    }
    status = await helper.request(Method.CONNECT, params)
    assert status["state"] == "connected"
    values = helper.lsp.progress_reports["connect-steps"]
    assert values[0].kind == "begin" and values[-1].kind == "end"
    messages = [v.message for v in values if v.kind == "report"]
    assert messages == [
        f"reaching {shared_runtime.host}:{shared_runtime.port} and checking its host key",
        "installing this machine's key",
        "logging in with the new key",
        "writing the ssh config",
        f"connecting to {shared_runtime.host}:{shared_runtime.port} and starting the sync",
    ]
    await helper.request(Method.DISCONNECT, {"profile": "steps", "forget": True})


async def test_cancelling_a_connect_undoes_what_it_did(
    helper: HelperClient, workspace: Workspace, shared_runtime: RuntimeHandle
) -> None:
    import asyncio
    import pwd

    from lsprotocol import types
    from support.system import wait_for

    keys = Path(pwd.getpwnam(shared_runtime.username).pw_dir) / ".ssh" / "authorized_keys"
    keys_before = keys.read_text() if keys.exists() else ""
    helper.lsp.progress_reports.setdefault("cancel-me", [])
    params = {
        **connect_params(workspace, shared_runtime.info, "cancelled"),
        "workDoneToken": "cancel-me",
    }
    request = asyncio.ensure_future(
        helper.lsp.protocol.send_request_async(Method.CONNECT, params, msg_id="connect-1")
    )
    # Cancel as soon as the first step is under way.
    await asyncio.to_thread(
        wait_for,
        lambda: any(v.kind == "report" for v in helper.lsp.progress_reports["cancel-me"]),
        15,
        "the first connect step",
    )
    helper.lsp.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="connect-1"))
    with pytest.raises(Exception) as caught:
        await asyncio.wait_for(request, 15)
    assert getattr(caught.value, "code", None) == -32800, caught.value
    # The enrolment stops at its next step and undoes the remote key; nothing local stays.
    await asyncio.to_thread(
        wait_for,
        lambda: (keys.read_text() if keys.exists() else "") == keys_before,
        10,
        "the runtime's authorized_keys to be as before",
    )
    assert not workspace.store.exists("cancelled")
    assert "colablink-cancelled" not in (
        (workspace.base / "ssh_config").read_text()
        if (workspace.base / "ssh_config").exists()
        else ""
    )
    reports = [v.message for v in helper.lsp.progress_reports["cancel-me"] if v.kind == "report"]
    assert "writing the ssh config" not in reports, reports


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"version": 1, "host": "h\\n", "port": 22, "username": "u", "remote_root": "/c"}',
        '{"version": 1, "host": "h", "port": "' + "9" * 5000 + '", "username": "u", '
        '"remote_root": "/c"}',
        '{"version": 1, "host": "-oProxyCommand=sh", "port": 22, "username": "u", '
        '"remote_root": "/c"}',
    ],
    ids=["deep", "newline-host", "long-port", "option-host"],
)
async def test_hostile_connection_info_gives_its_error_code(
    helper: HelperClient, workspace: Workspace, text: str
) -> None:
    params = {"connectionInfo": text, "workspaceRoot": str(workspace.project)}
    with pytest.raises(Exception) as caught:
        await helper.request(Method.CONNECT, params)
    assert getattr(caught.value, "code", None) == ErrorCode.BAD_CONNECTION_INFO, caught.value
