"""Run lenses: where they sit, what they run, and that they need a profile for the workspace."""

from __future__ import annotations

from pathlib import Path

from colablink.helper.code_lens import code_lenses
from colablink.helper.protocol import LensCommand, Method, Notification
from colablink.local.profiles import Profile
from lsprotocol import types

from .conftest import Workspace
from .lspclient import HelperClient
from .rawclient import RawClient

SOURCE = """\
import sys

# %%
x = 1
print(x)

# %% second cell
y = 2
if __name__ == "__main__":
    main()
# %%
"""


def save_offline_profile(ws: Workspace, project_root: Path) -> None:
    """A profile is all lenses need; nothing connects to it."""
    ws.store.save(
        Profile(
            name="lens",
            host="127.0.0.1",
            port=9,
            username="nobody",
            remote_root="/content",
            remote_dir="out",
            local_dir="out",
            project_root=project_root,
            key_path=ws.base / "key",
            host_keys=["ssh-ed25519 AAAA"],
        )
    )


async def lenses(helper: HelperClient, path: Path, text: str = SOURCE) -> list[types.CodeLens]:
    uri = path.as_uri()
    helper.lsp.text_document_did_open(  # type: ignore[attr-defined]
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    result = await helper.lsp.text_document_code_lens_async(  # type: ignore[attr-defined]
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    return list(result or [])


def summary(found: list[types.CodeLens]) -> list[tuple[int, str, list[object]]]:
    return [
        (lens.range.start.line, lens.command.command, list(lens.command.arguments or []))
        for lens in found
        if lens.command is not None
    ]


def test_lens_positions_and_arguments() -> None:
    assert summary(code_lenses(SOURCE, "pkg/train.py")) == [
        (0, LensCommand.RUN_FILE, ["pkg/train.py"]),
        (8, LensCommand.RUN_FILE, ["pkg/train.py"]),
        (2, LensCommand.RUN_CELL, ["pkg/train.py", 3, 5]),
        (6, LensCommand.RUN_CELL, ["pkg/train.py", 7, 9]),
    ]
    assert [lens.command.title for lens in code_lenses(SOURCE, "a.py") if lens.command] == [
        "▶ Run on Colab",
        "▶ Run on Colab",
        "▶ Run cell on Colab",
        "▶ Run cell on Colab",
    ]


async def test_lenses_appear_only_once_the_workspace_has_a_profile(
    helper: HelperClient, workspace: Workspace
) -> None:
    source = workspace.project / "pkg" / "train.py"
    source.parent.mkdir()
    source.write_text(SOURCE)
    assert await lenses(helper, source) == []

    save_offline_profile(workspace, workspace.base / "elsewhere")
    assert await lenses(helper, source) == [], "another project's profile must not count"

    save_offline_profile(workspace, workspace.project)
    found = summary(await lenses(helper, source))
    assert found[0] == (0, LensCommand.RUN_FILE, ["pkg/train.py"])
    assert (2, LensCommand.RUN_CELL, ["pkg/train.py", 3, 5]) in found
    assert len(found) == 4


async def test_a_profile_made_in_a_terminal_refreshes_the_lenses_and_reaches_the_editor(
    helper: HelperClient, workspace: Workspace
) -> None:
    await helper.request(Method.STATUS, {})  # the helper is up and watching
    before = helper.lens_refreshes
    # As `colablink init` in a terminal writes it: nothing tells the helper.
    save_offline_profile(workspace, workspace.project)
    note = await helper.wait_note(
        Notification.STATUS_CHANGED, lambda p: p["status"]["profile"] == "lens", timeout=10
    )
    assert note["status"]["state"] == "disconnected"
    assert helper.lens_refreshes > before


async def test_lenses_follow_the_code_lens_setting(
    helper: HelperClient, workspace: Workspace
) -> None:
    source = workspace.project / "run.py"
    source.write_text(SOURCE)
    save_offline_profile(workspace, workspace.project)
    assert len(await lenses(helper, source)) == 4
    helper.lsp.workspace_did_change_configuration(  # type: ignore[attr-defined]
        types.DidChangeConfigurationParams(settings={"colablink": {"codeLens": False}})
    )
    assert await lenses(helper, source) == []


def test_a_malformed_code_lens_request_gets_an_error(workspace: Workspace) -> None:
    client = RawClient(workspace.env)
    try:
        client.request(0, "initialize", {"capabilities": {}, "rootUri": workspace.project.as_uri()})
        bad = [{"textDocument": 5}, [], None, {"textDocument": {"uri": ["x"]}}, {}]
        for n, params in enumerate(bad, start=1):
            reply = client.request(n, types.TEXT_DOCUMENT_CODE_LENS, params)
            assert reply["error"]["code"] == -32602, reply
            assert (
                "textDocument" in reply["error"]["message"] or "params" in reply["error"]["message"]
            )
    finally:
        assert client.close() == 0
