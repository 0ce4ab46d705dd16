"""``# %%`` cells through the real helper, in one kernel per file on the runtime's real Jupyter
server (installed once for the module by the same core the helper uses), and the kernel picker's
``jupyter/ensure`` answered with a forward a real REST client gets through."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from colablink.connection import Connection
from colablink.helper.protocol import Method, Notification
from colablink.notebooks.jupyter_server import ensure_server, stop_server
from lsprotocol import types
from support.runtimes import RuntimeHandle
from support.system import pids_of_user

from .conftest import PROFILE, Workspace, connect_profile, profile_for, write_profile
from .lspclient import HelperClient

# The first start of a kernel on a busy 2-core machine imports ipykernel: give it room.
CELL_TIMEOUT_S = 60

KERNEL_NAME = "colablink-kern"
SERVER_NAME = "colablink-jupy"


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


TRAIN = """\
# %%
def scaled(x):
    return x * 3

# %%
import os
here = os.getcwd()

# %%
print("scaled", scaled(14), "in", here)

# %%
print("about to fail")
missing_name + 1
"""


@pytest.fixture(scope="module")
def jupyter_runtime(shared_runtime: RuntimeHandle) -> Iterator[RuntimeHandle]:
    """The module's runtime with its Jupyter server installed and running: one pip install."""
    project = Path(tempfile.mkdtemp(prefix="clh-jup-"))
    profile = profile_for(shared_runtime, project, "jupyter-setup", "colab_outputs")
    with Connection(profile) as connection:
        ensure_server(connection)
    try:
        yield shared_runtime
    finally:
        with Connection(profile) as connection:
            stop_server(connection)


async def connected_with(helper: HelperClient, ws: Workspace, handle: RuntimeHandle) -> None:
    (ws.project / "sub").mkdir()
    (ws.project / "sub" / "train.py").write_text(TRAIN)
    write_profile(ws, handle)
    await connect_profile(helper, ws)
    await helper.request(Method.FLUSH, {"profile": PROFILE})


def cell(line: int, exec_id: str) -> dict[str, Any]:
    """The cell of TRAIN whose first code line is ``line`` (1-based), as the editor sends it."""
    lines = TRAIN.splitlines(keepends=True)
    end = next((i for i in range(line, len(lines)) if lines[i].startswith("# %%")), len(lines))
    code = "".join(lines[line - 1 : end])
    return {
        "profile": PROFILE,
        "execId": exec_id,
        "path": "sub/train.py",
        "line": line,
        "code": code,
    }


def output(helper: HelperClient, exec_id: str, stream: str) -> str:
    notes = helper.notes_of(Notification.EXEC_OUTPUT)
    return "".join(n["data"] for n in notes if n["execId"] == exec_id and n["stream"] == stream)


async def run_cell(helper: HelperClient, line: int, exec_id: str) -> int:
    result = await helper.request(Method.CELL_RUN, cell(line, exec_id), timeout=CELL_TIMEOUT_S)
    return int(result["exitCode"])


async def test_cells_of_a_file_share_one_kernel_run_in_order_in_the_files_folder(
    helper: HelperClient, workspace: Workspace, jupyter_runtime: RuntimeHandle
) -> None:
    await connected_with(helper, workspace, jupyter_runtime)
    assert await run_cell(helper, 2, "c1") == 0
    assert await run_cell(helper, 6, "c2") == 0
    assert await run_cell(helper, 10, "c3") == 0
    folder = f"{jupyter_runtime.remote_root}/sub"
    assert output(helper, "c3", "stdout") == f"scaled 42 in {folder}\n"
    assert output(helper, "c3", "stderr") == ""
    # Neither the server (forwarded by the kernel picker) nor the kernel's own sockets are ports
    # to offer.
    names = {pid: comm(pid) for pid in pids_of_user(jupyter_runtime.username)}
    kernels = {pid for pid, name in names.items() if name == KERNEL_NAME}
    servers = {pid for pid, name in names.items() if name == SERVER_NAME}
    assert kernels and servers
    [status] = (await helper.request(Method.STATUS, {}))["profiles"]
    assert not {entry["pid"] for entry in status["ports"]} & (kernels | servers)
    # Restart Cell Kernel: the names are gone, the folder stays.
    await helper.request(Method.CELL_RESTART, {"profile": PROFILE, "path": "sub/train.py"})
    assert await run_cell(helper, 10, "c4") == 1
    assert "NameError" in output(helper, "c4", "stderr")


async def test_a_failing_cell_names_the_file_and_its_line(
    helper: HelperClient, workspace: Workspace, jupyter_runtime: RuntimeHandle
) -> None:
    await connected_with(helper, workspace, jupyter_runtime)
    assert await run_cell(helper, 13, "f1") == 1
    assert output(helper, "f1", "stdout") == "about to fail\n"
    err = output(helper, "f1", "stderr")
    plain = re.sub(r"\x1b\[[0-9;]*m", "", err)
    remote_file = f"{jupyter_runtime.remote_root}/sub/train.py"
    assert f"File {remote_file}:14\n" in plain, plain
    assert "missing_name + 1" in plain  # the synced file's own line, shown by the traceback
    assert "NameError: name 'missing_name' is not defined" in plain
    # The cell's wrapper is no frame of the user's.
    assert "exec(compile(" not in plain


async def test_jupyter_ensure_hands_back_a_forwarded_url_and_token_that_work(
    helper: HelperClient, workspace: Workspace, jupyter_runtime: RuntimeHandle
) -> None:
    write_profile(workspace, jupyter_runtime)
    await connect_profile(helper, workspace)
    found = await helper.request(Method.JUPYTER_ENSURE, {"profile": PROFILE})
    assert found["localRoot"] == str(workspace.project)
    assert found["baseUrl"].startswith("http://127.0.0.1:")
    port = int(found["baseUrl"].rstrip("/").rsplit(":", 1)[1])
    assert await status_of(port, found["token"]) == 200
    assert await status_of(port, "not-the-token") == 403
    again = await helper.request(Method.JUPYTER_ENSURE, {"profile": PROFILE})
    assert again == found  # the same forward, not a second one


async def status_of(port: int, token: str) -> int:
    def get() -> int:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/api/kernels", headers={"Authorization": f"token {token}"})
            response = connection.getresponse()
            if response.status == 200:
                assert isinstance(json.loads(response.read()), list)
            return response.status
        finally:
            connection.close()

    return await asyncio.to_thread(get)


async def test_cancelling_a_cell_interrupts_the_kernel_which_keeps_its_names(
    helper: HelperClient, workspace: Workspace, jupyter_runtime: RuntimeHandle
) -> None:
    await connected_with(helper, workspace, jupyter_runtime)
    assert await run_cell(helper, 2, "k1") == 0  # defines scaled()
    sleepy = {
        **cell(2, "k2"),
        "code": "import time\nprint('sleeping', flush=True)\ntime.sleep(100)\n",
    }
    request = asyncio.ensure_future(
        helper.lsp.protocol.send_request_async(Method.CELL_RUN, sleepy, msg_id="sleepy-cell")
    )
    await helper.wait_note(
        Notification.EXEC_OUTPUT, lambda n: n["execId"] == "k2" and "sleeping" in n["data"]
    )
    started = time.monotonic()
    helper.lsp.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="sleepy-cell"))
    with pytest.raises(Exception) as cancelled:  # pygls raises the JSON-RPC error of the reply
        await asyncio.wait_for(request, 5)
    assert getattr(cancelled.value, "code", None) == -32800
    # The next cell of the file runs at once: the sleep was interrupted, the namespace kept.
    assert await run_cell(helper, 10, "k3") == 1  # `here` was never defined in this kernel
    assert "NameError: name 'here'" in re.sub(r"\x1b\[[0-9;]*m", "", output(helper, "k3", "stderr"))
    check = {**cell(2, "k4"), "code": "print(scaled(2))\n"}
    assert (await helper.request(Method.CELL_RUN, check, timeout=CELL_TIMEOUT_S))["exitCode"] == 0
    assert output(helper, "k4", "stdout") == "6\n"
    assert time.monotonic() - started < 10
