"""A runtime shared by the module, and one helper process per test with its own config dir.

Profiles are written directly with the runtime's test key where a test is not about enrolment.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from colablink.helper.protocol import Method
from colablink.local.profiles import Profile, ProfileStore
from support.runtimes import RuntimeHandle, start_root_runtime

from .lspclient import HelperClient, start_helper
from .rawclient import helper_env

PROFILE = "hp"


@dataclass
class Workspace:
    base: Path
    env: dict[str, str]
    project: Path

    @property
    def store(self) -> ProfileStore:
        return ProfileStore(Path(self.env["COLABLINK_CONFIG_DIR"]) / "profiles")


@pytest.fixture
def workspace() -> Iterator[Workspace]:
    # Short: the agent's unix socket path must fit in 108 bytes.
    base = Path(tempfile.mkdtemp(prefix="clh-"))
    project = base / "project"
    project.mkdir()
    try:
        yield Workspace(base, helper_env(base), project)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def shared_runtime() -> Iterator[RuntimeHandle]:
    """One root-mode runtime per module: starting one takes a while."""
    with start_root_runtime() as handle:
        yield handle


def profile_for(handle: RuntimeHandle, project: Path, name: str, remote_dir: str) -> Profile:
    return Profile(
        name=name,
        host=handle.host,
        port=handle.port,
        username=handle.username,
        remote_root=handle.remote_root,
        remote_dir=remote_dir,
        local_dir="colab_outputs",
        project_root=project,
        key_path=handle.client_key,
        host_keys=list(handle.host_keys),
    )


def write_profile(ws: Workspace, handle: RuntimeHandle, name: str = PROFILE) -> Profile:
    profile = profile_for(handle, ws.project, name, f"conn-{ws.base.name}")
    ws.store.save(profile)
    return profile


async def connect_profile(helper: HelperClient, ws: Workspace) -> Any:
    """The window connects to the profile already written for ``ws``; returns its status."""
    params = {"profile": PROFILE, "workspaceRoot": str(ws.project)}
    return await helper.request(Method.CONNECT, params)


@pytest_asyncio.fixture
async def helper(workspace: Workspace) -> AsyncIterator[HelperClient]:
    client = await start_helper(workspace.env, workspace.project)
    try:
        yield client
    finally:
        await client.lsp.shutdown_session()  # type: ignore[attr-defined]
        await client.lsp.stop()
