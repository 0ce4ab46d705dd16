"""Logs reach stderr and the client's window/logMessage; pygls's per-message lines do not."""

from __future__ import annotations

from pathlib import Path

from colablink.helper.protocol import Method

from .conftest import Workspace
from .rawclient import RawClient


def test_logs_go_to_stderr_and_log_message_without_message_dumps(
    workspace: Workspace, tmp_path: Path
) -> None:
    stderr = tmp_path / "stderr.txt"
    client = RawClient(workspace.env, stderr=stderr)
    try:
        init = {
            "capabilities": {},
            "rootUri": workspace.project.as_uri(),
            "initializationOptions": {"logLevel": "debug", "codeLens": "not a boolean"},
        }
        client.request(0, "initialize", init)
        client.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        client.request(1, Method.STATUS, {})
        client.send_bytes(b"{broken")
        while (message := client.next_message()).get("id", "") is not None:
            client.skipped.append(message)
        logged = [m["params"] for m in client.skipped if m.get("method") == "window/logMessage"]
        assert any("settings.codeLens" in entry["message"] for entry in logged), logged
        assert all(entry["type"] in (1, 2, 3, 4) for entry in logged)
        client.request(2, "shutdown")
    finally:
        assert client.close() == 0
    text = stderr.read_text()
    assert "settings.codeLens must be a boolean" in text
    assert "Sending data" not in text
    assert "Traceback" not in text
