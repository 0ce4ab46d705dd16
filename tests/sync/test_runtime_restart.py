"""A runtime restarted as a fresh machine: ``colablink watch`` resumes after ``colablink init``.

On Colab a restarted runtime is a new VM: new address, new host keys, the same user and
remote_root, an empty disk. The user re-runs ``init`` with the new connection info for the same
profile; the running ``watch`` must follow it and send everything the new runtime lacks.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from colablink.connection import Connection
from colablink.errors import Unreachable
from colablink.local.profiles import Profile, ProfileStore
from colablink_runtime.supervisor import STATE_FOLDER
from conftest import owner, tree_digest
from support import free_port, make_client_key, public_tempdir, unique_name
from support.runtimes import RuntimeHandle
from watch_cli import PROFILE, Local, Watch

# Binary, empty, nested and unicode-named sources.
SOURCES = {
    "train.py": b"print('epoch')\n",
    "data/weights.bin": bytes(range(256)) * 1200,
    "data/empty.txt": b"",
    "notes/résumé ü.md": b"unicode name\n",
    "deep/a/b/c.txt": b"nested\n",
}


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def sources(root: Path, conn_dir: str) -> dict[str, str]:
    """Hashes of everything under ``root`` except the connection directory and the runtime's
    own state (``watch``'s status probe asks the run supervisor, which keeps it there)."""

    def skip(rel: str) -> bool:
        return any(rel == d or rel.startswith(d + "/") for d in (conn_dir, STATE_FOLDER))

    return tree_digest(root, skip=skip)


def same_sources(local: Path, remote: Path, conn_dir: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return sources(remote, conn_dir) == sources(local, conn_dir)
        except OSError:
            return False  # a file renamed into place while walking

    return check


@pytest.mark.parametrize("address", ["new port", "old port"])
def test_watch_follows_a_restarted_runtime_after_init(
    runtime_factory: Callable[..., RuntimeHandle], local: Local, address: str
) -> None:
    username = unique_name("clt")
    remote_base = public_tempdir("colablink-rr-")
    remote_root = remote_base / "work"
    watch: Watch | None = None
    try:
        first = runtime_factory(username=username, remote_root=str(remote_root))
        enrolled = local.cli("init", input=json.dumps(first.info))
        assert enrolled.returncode == 0, enrolled.stderr
        conn_dir = local.profile()["remote_dir"]
        assert local.profile()["local_dir"] == conn_dir
        write_tree(local.project, SOURCES)

        watch = Watch(local)
        watch.wait(lambda: watch.saw("is up"), 30, "the agent to start")
        watch.wait(
            same_sources(local.project, remote_root, conn_dir), 60, "the first runtime to sync"
        )

        # The runtime goes away for good, disk and all, like a recycled Colab VM.
        first.close()
        assert not remote_root.exists()
        watch.wait(lambda: watch.saw("sync: disconnected"), 30, "watch to notice the drop")

        # The old address may come back serving another machine: its host key is not pinned.
        port = first.port if address == "old port" else None
        second = runtime_factory(username=username, remote_root=str(remote_root), port=port)
        assert (second.port == first.port) == (address == "old port")
        assert set(second.host_keys).isdisjoint(first.host_keys)
        assert not any((remote_root / rel).exists() for rel in SOURCES)
        if address == "old port":
            # Refused before init (nothing sent), and watch keeps waiting rather than halting.
            watch.wait(lambda: watch.saw("not the pinned one"), 60, "the host key to be refused")

        reenrolled = local.cli("init", input=json.dumps(second.info))
        assert reenrolled.returncode == 0, reenrolled.stderr
        assert local.profile()["port"] == second.port
        assert local.profile()["remote_dir"] == conn_dir

        # Without restarting watch: every source lands on the new runtime, identical by hash.
        watch.wait(
            same_sources(local.project, remote_root, conn_dir),
            90,
            "the restarted runtime to receive every file",
        )
        assert watch.process.poll() is None

        # A new local edit propagates.
        (local.project / "train.py").write_bytes(b"print('epoch 2')\n")
        watch.wait(
            lambda: (
                (remote_root / "train.py").exists()
                and (remote_root / "train.py").read_bytes() == b"print('epoch 2')\n"
            ),
            30,
            "the edit to reach the runtime",
        )

        # An output the new runtime writes comes back.
        output = remote_root / conn_dir / "metrics.json"
        temp = remote_root / ".writing-metrics.json"
        temp.write_bytes(b'{"loss": 0.1}')
        os.chown(temp, *owner(remote_root))
        temp.rename(output)
        landed = local.project / conn_dir / "metrics.json"
        watch.wait(
            lambda: landed.exists() and landed.read_bytes() == b'{"loss": 0.1}',
            30,
            "the output to arrive locally",
        )

        assert watch.interrupt() == 0, "\n".join(watch.lines)
        assert watch.saw("Agent stopped.")
        assert not (local.base / "run" / f"agent-{PROFILE}.sock").exists()
    finally:
        if watch is not None:
            watch.kill()
        shutil.rmtree(remote_base, ignore_errors=True)


def test_only_a_holder_of_the_stored_profile_follows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLABLINK_CONFIG_DIR", str(tmp_path / "config"))
    store = ProfileStore()
    make_client_key(tmp_path / "key")
    stored = Profile(
        name=PROFILE,
        host="127.0.0.1",
        port=free_port(),
        username="nobody",
        remote_root="/content",
        remote_dir="out",
        local_dir="out",
        project_root=tmp_path,
        key_path=tmp_path / "key",
        host_keys=["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDummyKeyForATestOnly0000000000000000"],
    )
    store.save(stored)
    holder = Connection(stored, connect_timeout=2)
    variant = Connection(replace(stored, port=free_port()), connect_timeout=2)
    reinit = replace(stored, port=free_port())
    store.save(reinit)

    # Nothing listens on these ports: the refusal names the address each one dialed.
    with pytest.raises(Unreachable, match=f":{reinit.port} "):
        holder.warm_up()
    assert holder.profile == reinit
    with pytest.raises(Unreachable, match=f":{variant.profile.port} "):
        variant.warm_up()
    assert variant.profile.port != reinit.port
