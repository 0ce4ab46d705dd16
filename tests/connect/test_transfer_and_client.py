"""``upload``/``download`` through the CLI (agent or not) and the ``LocalClient`` API."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from colablink import LocalClient
from support.runtimes import RuntimeHandle

from .conftest import Setup


def make_tree(root: Path) -> None:
    (root / "empty").mkdir(parents=True)
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "sub" / "deeper" / "blob.bin").write_bytes(os.urandom(300_000))
    (root / "ünï cödé.txt").write_text("unicode name\n")
    (root / "zero").write_bytes(b"")


def digest(root: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        found[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def test_upload_then_download_is_identical(live: Setup, mode: str, tmp_path: Path) -> None:
    source = tmp_path / "tree"
    make_tree(source)
    remote = f"uploads-{mode}"
    up = live.cli("upload", str(source), remote)
    assert up.returncode == 0, up.stderr
    assert f"{live.profile.remote_root}/{remote}".encode() in up.stdout
    back = tmp_path / "back"
    back.mkdir()
    down = live.cli("download", remote, str(back))
    assert down.returncode == 0, down.stderr
    assert digest(back / remote) == digest(source)


def test_local_client_runs_and_moves_files(live: Setup, tmp_path: Path) -> None:
    with LocalClient(profile=live.profile.name) as client:
        result = client.execute(["sh", "-c", "echo hi; echo oops >&2; exit 3"])
        assert (result.exit_code, result.stdout, result.stderr) == (3, b"hi\n", b"oops\n")
        assert client.execute("echo $COLABLINK_OUTPUT_DIR").output.strip() == (
            live.profile.remote_conn_dir
        )
        assert client.execute(["cat"], stdin=b"piped").stdout == b"piped"
        seen: list[bytes] = []
        teed = client.execute(
            "echo out; echo err >&2", on_stdout=seen.append, on_stderr=seen.append
        )
        assert (teed.stdout, teed.stderr) == (b"out\n", b"err\n")
        assert sorted(seen) == [b"err\n", b"out\n"]
        local = tmp_path / "data.bin"
        local.write_bytes(os.urandom(50_000))
        assert client.upload(local, destination="api/data.bin") == (
            f"{live.profile.remote_root}/api/data.bin"
        )
        landed = client.download("api/data.bin", tmp_path / "copy.bin")
        assert landed.read_bytes() == local.read_bytes()
        session = client.connection.session
        assert session.is_active()
    assert not session.is_active()


def test_local_client_initialize_enrolls_like_init(
    runtime: RuntimeHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLABLINK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("COLABLINK_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("COLABLINK_SSH_CONFIG", str(tmp_path / "ssh_config"))
    project = tmp_path / "project"
    project.mkdir()
    with LocalClient(profile="api") as client:
        profile = client.initialize(
            json.dumps(runtime.info),
            remote_dir="outputs",
            local_dir="results",
            project_root=project,
        )
        assert (profile.name, profile.remote_dir) == ("api", "outputs")
        assert (project / "results").is_dir()
        result = client.execute(["sh", "-c", 'echo made > "$COLABLINK_OUTPUT_DIR/f.txt"'])
        assert result.ok
        assert client.download("outputs/f.txt", project / "results").read_text() == "made\n"
    stored = (tmp_path / "config").rglob("*")
    assert not any(
        runtime.password and runtime.password in p.read_text(errors="replace")
        for p in stored
        if p.is_file()
    )
