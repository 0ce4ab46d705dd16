"""A project directory synced with a real runtime (real sshd, real SSH sessions)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from colablink.local.profiles import Profile, ProfileStore
from colablink.ssh.session import Session, SshTarget
from colablink.sync.engine import Backoff, SyncEngine
from colablink.sync.spec import SyncSpec
from support.runtimes import RuntimeHandle
from watch_cli import Local

FAST_BACKOFF = Backoff(first=0.01, limit=0.05)


@dataclass
class SyncBed:
    rt: RuntimeHandle
    project: Path
    outputs: Path
    remote: Path
    remote_out: Path
    state: Path
    port: int
    sessions: list[Session] = field(default_factory=list)
    engines: list[SyncEngine] = field(default_factory=list)

    @property
    def spec(self) -> SyncSpec:
        return SyncSpec(
            local_root=self.project,
            remote_root=str(self.remote),
            local_conn_dir=self.outputs,
            remote_conn_dir=str(self.remote_out),
            state_path=self.state,
        )

    def connect(self) -> Session:
        """A fresh session each call (after a drop the old one is dead anyway)."""
        for old in self.sessions:
            old.close()
        self.sessions.clear()
        target = SshTarget(
            host="127.0.0.1",
            port=self.port,
            username=self.rt.username,
            host_keys=tuple(self.rt.host_keys),
            key_path=Path(self.rt.client_key),
        )
        session = Session.connect(target, timeout=10)
        self.sessions.append(session)
        return session

    def engine(self, **kwargs: Any) -> SyncEngine:
        kwargs.setdefault("backoff", FAST_BACKOFF)
        kwargs.setdefault("debounce", 0.05)
        kwargs.setdefault("settle", 0.3)
        engine = SyncEngine(kwargs.pop("spec", self.spec), self.connect, **kwargs)
        self.engines.append(engine)
        return engine

    def remote_write(self, rel: str, data: bytes) -> Path:
        """Write a file on the runtime as its user would (owned by the runtime account)."""
        path = self.remote_out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the outputs dir and renamed in, so the watch sees one finished file.
        temp = self.remote / f".writing-{os.getpid()}-{path.name}"
        temp.write_bytes(data)
        uid, gid = owner(self.remote)
        os.chown(temp, uid, gid)
        temp.rename(path)
        return path

    def close(self) -> None:
        for engine in self.engines:
            engine.stop()
        for session in self.sessions:
            session.close()


def save_profile(bed: SyncBed, config: Path, name: str = "gpu") -> dict[str, str]:
    """Store a profile for ``bed`` under ``config``; returns the environment that finds it."""
    saved = os.environ.get("COLABLINK_CONFIG_DIR")
    os.environ["COLABLINK_CONFIG_DIR"] = str(config)
    try:
        ProfileStore().save(
            Profile(
                name=name,
                host="127.0.0.1",
                port=bed.rt.port,
                username=bed.rt.username,
                remote_root=str(bed.remote),
                remote_dir="outputs",
                local_dir="outputs",
                project_root=bed.project,
                key_path=Path(bed.rt.client_key),
                host_keys=list(bed.rt.host_keys),
            )
        )
    finally:
        if saved is None:
            del os.environ["COLABLINK_CONFIG_DIR"]
        else:
            os.environ["COLABLINK_CONFIG_DIR"] = saved
    return {**os.environ, "COLABLINK_CONFIG_DIR": str(config)}


def owner(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid


def tree_digest(root: Path, skip: Callable[[str], bool] = lambda _rel: False) -> dict[str, str]:
    """Path -> sha256 (files) or "dir" (directories), for comparing two trees exactly."""
    out: dict[str, str] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            full = Path(dirpath, name)
            rel = full.relative_to(root).as_posix()
            if skip(rel):
                continue
            if full.is_symlink():
                out[rel] = "link"
            elif full.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(full.read_bytes()).hexdigest()
    return out


def temp_files(root: Path) -> list[str]:
    return [
        str(Path(d, n)) for d, _dirs, names in os.walk(root) for n in names if n.startswith(".clk~")
    ]


@pytest.fixture
def bed(runtime: RuntimeHandle, tmp_path: Path) -> Iterator[SyncBed]:
    project = tmp_path / "project"
    project.mkdir()
    remote = Path(runtime.remote_root)
    the_bed = SyncBed(
        rt=runtime,
        project=project,
        outputs=project / "outputs",
        remote=remote,
        remote_out=remote / "outputs",
        state=tmp_path / "state" / "sync.json",
        port=runtime.port,
    )
    try:
        yield the_bed
    finally:
        the_bed.close()


@pytest.fixture
def local() -> Iterator[Local]:
    # Short: the agent's unix socket path must fit in 108 bytes.
    base = Path(tempfile.mkdtemp(prefix="clr-"))
    project = base / "project"
    project.mkdir()
    env = {
        **os.environ,
        "HOME": str(base / "home"),
        "COLABLINK_CONFIG_DIR": str(base / "config"),
        "COLABLINK_RUNTIME_DIR": str(base / "run"),
        "COLABLINK_SSH_CONFIG": str(base / "ssh_config"),
    }
    try:
        yield Local(base, env, project)
    finally:
        shutil.rmtree(base, ignore_errors=True)
