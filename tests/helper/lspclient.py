"""A pytest-lsp client for the helper that keeps custom params and results as plain JSON."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cattrs
from colablink.helper.protocol import Notification
from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import register_lsp_features

from .rawclient import helper_command


def _raw_converter() -> cattrs.Converter:
    converter = get_converter(cattrs.Converter())
    converter.register_structure_hook(
        JsonRPCRequestMessage,
        lambda o, c: c(
            id=o["id"], method=o["method"], jsonrpc=o["jsonrpc"], params=o.get("params")
        ),
    )
    converter.register_structure_hook(
        JsonRPCNotification,
        lambda o, c: c(method=o["method"], jsonrpc=o["jsonrpc"], params=o.get("params")),
    )
    converter.register_structure_hook(
        JsonRPCResponseMessage,
        lambda o, c: c(id=o["id"], jsonrpc=o["jsonrpc"], result=o.get("result")),
    )
    return converter


class HelperClient:
    """The test's view of one helper process: requests, and every notification it sent."""

    def __init__(self, client: LanguageClient) -> None:
        self.lsp = client
        self.notes: list[tuple[str, Any]] = []
        self.lens_refreshes = 0

        def lens_refresh(_: Any) -> None:
            self.lens_refreshes += 1

        client.feature(types.WORKSPACE_CODE_LENS_REFRESH)(lens_refresh)
        for method in (
            Notification.EXEC_OUTPUT,
            Notification.STATUS_CHANGED,
            Notification.OUTPUTS_CHANGED,
            Notification.PTY_OUTPUT,
            Notification.PTY_EXIT,
        ):
            client.feature(method)(self._recorder(method))

    def _recorder(self, method: str) -> Callable[[Any], None]:
        def record(params: Any) -> None:
            self.notes.append((method, params))

        return record

    async def request(self, method: str, params: Any = None, timeout: float = 60) -> Any:
        return await asyncio.wait_for(self.lsp.protocol.send_request_async(method, params), timeout)

    def notes_of(self, method: str) -> list[Any]:
        return [params for name, params in self.notes if name == method]

    def screen(self, pty_id: str) -> str:
        """Everything terminal ``pty_id`` has printed so far."""
        notes = self.notes_of(Notification.PTY_OUTPUT)
        return "".join(p["data"] for p in notes if p["ptyId"] == pty_id)

    async def wait_note(
        self, method: str, predicate: Callable[[Any], bool], timeout: float = 15
    ) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for params in self.notes_of(method):
                if predicate(params):
                    return params
            await asyncio.sleep(0.02)
        raise AssertionError(f"no matching {method} within {timeout} s")

    @property
    def pid(self) -> int:
        assert self.lsp._server is not None
        return self.lsp._server.pid


def make_client() -> LanguageClient:
    client = LanguageClient(converter_factory=_raw_converter)
    register_lsp_features(client)
    return client


async def start_helper(env: dict[str, str], workspace: Path) -> HelperClient:
    config = ClientServerConfig(
        server_command=helper_command(), client_factory=make_client, server_env=env
    )
    client = await config.start()
    helper = HelperClient(client)  # type: ignore[arg-type]
    capabilities = types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(
            code_lens=types.CodeLensWorkspaceClientCapabilities(refresh_support=True)
        ),
    )
    await client.initialize_session(  # type: ignore[attr-defined]
        types.InitializeParams(
            capabilities=capabilities,
            root_uri=workspace.as_uri(),
            initialization_options={"logLevel": "debug"},
        )
    )
    return helper
