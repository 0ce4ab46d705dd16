"""Uploads and downloads: trees identical by hash, cp-like destinations, atomic replacement."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest
from colablink.errors import RemoteError, UsageError
from colablink.ssh import transfer
from colablink.ssh.session import Session, close_channel, send_all, shutdown_write
from colablink.ssh.transfer import TransferProgress
from support.runtimes import RuntimeHandle


def make_tree(root: Path) -> Path:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "empty dir").mkdir()
    (root / "sub" / "empty").mkdir()
    (root / "ünïcödé ✓").mkdir()
    (root / "ünïcödé ✓" / "fïlé 名前.bin").write_bytes(os.urandom(300_000))
    (root / "sub" / "deeper" / "model.pt").write_bytes(os.urandom(2_500_000))
    (root / "sub" / "a.txt").write_text("hello\n")
    (root / "zero").write_bytes(b"")
    (root / "nul-bytes").write_bytes(bytes(range(256)) * 100)
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    os.symlink("sub/a.txt", root / "link")
    return root


def digest(root: Path) -> dict[str, str]:
    """Relative path → content hash, link target, or directory marker (plus the exec bit)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                out[rel] = "dir"
            else:
                exe = "x" if os.access(path, os.X_OK) else "-"
                out[rel] = exe + hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_tree_round_trips_identically(
    session: Session, runtime: RuntimeHandle, tmp_path: Path
) -> None:
    src = make_tree(tmp_path / "project")
    seen: list[TransferProgress] = []
    transfer.upload(session, src, "copy", seen.append, root=runtime.remote_root)
    assert seen[-1].bytes_done == seen[-1].bytes_total == 300_000 + 2_500_000 + 6 + 25_600 + 18
    assert seen[-1].files_done == seen[-1].files_total == 6
    listing = session.run(["ls", "-A", runtime.remote_root]).stdout.decode().split()
    assert listing == ["copy"], "no temporary left behind"
    down: list[TransferProgress] = []
    landed = transfer.download(
        session, "copy", tmp_path / "back", down.append, root=runtime.remote_root
    )
    assert landed == tmp_path / "back"
    assert digest(landed) == digest(src)
    assert down[-1].files_done == 6 and down[-1].bytes_done == down[-1].bytes_total
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".colablink")] == []


def test_destinations_follow_cp(session: Session, runtime: RuntimeHandle, tmp_path: Path) -> None:
    f = tmp_path / "data.bin"
    f.write_bytes(b"v1")
    root = runtime.remote_root
    session.run(["mkdir", "-p", f"{root}/existing"])
    transfer.upload(session, f, "existing", root=root)  # into an existing directory
    transfer.upload(session, f, "newdir/", root=root)  # trailing slash: a directory
    transfer.upload(session, f, "renamed.bin", root=root)  # otherwise: the copy's name
    found = session.run("find . -type f | sort", cwd=root).stdout.decode().split()
    assert found == ["./existing/data.bin", "./newdir/data.bin", "./renamed.bin"]
    out = tmp_path / "out"
    out.mkdir()
    assert transfer.download(session, f"{root}/renamed.bin", out) == out / "renamed.bin"
    assert (
        transfer.download(session, f"{root}/renamed.bin", tmp_path / "x.bin").read_bytes() == b"v1"
    )


def test_replacing_keeps_the_old_version_until_the_new_one_is_whole(
    session: Session, runtime: RuntimeHandle, tmp_path: Path
) -> None:
    root = runtime.remote_root
    d = tmp_path / "d"
    d.mkdir()
    (d / "old.txt").write_text("old")
    transfer.upload(session, d, f"{root}/target", root=root)
    (d / "old.txt").unlink()
    (d / "new.txt").write_text("new")
    transfer.upload(session, d, "target/../target2", root=root)
    # A directory replaced by a directory: no merge, the new one as a whole.
    f = tmp_path / "f"
    f.write_text("file now")
    transfer.upload(session, f, f"{root}/target2/d", root=root)
    assert session.run(["cat", f"{root}/target2/d"]).stdout == b"file now"
    transfer.upload(session, d, f"{root}/target2/d", root=root)
    assert session.run(["ls", f"{root}/target2/d"]).stdout == b"new.txt\n"
    parent = tmp_path / "local"
    parent.mkdir()
    local = transfer.download(session, f"{root}/target2/d", parent)
    (local / "stale.txt").write_text("stale")
    assert transfer.download(session, f"{root}/target2/d", parent) == local
    assert sorted(p.name for p in local.iterdir()) == ["new.txt"]


def test_a_whole_archive_without_its_commit_line_lands_nothing(
    session: Session, runtime: RuntimeHandle, tmp_path: Path
) -> None:
    """A stream that ends on a member boundary is a valid archive: only the commit line lands it.

    (Without it, a cancel or a drop at the right moment once let a partial copy replace the old.)
    """
    root = runtime.remote_root
    old = tmp_path / "kept.txt"
    old.write_text("old")
    transfer.upload(session, old, "kept.txt", root=root)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("x")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"new"))
    chan = session.open_exec(transfer._remote_place_script(f"{root}/kept.txt", "kept.txt"))
    send_all(chan, archive.getvalue())
    shutdown_write(chan)
    assert chan.recv_exit_status() != 0
    close_channel(chan)
    assert session.run(["cat", f"{root}/kept.txt"]).stdout == b"old"
    assert session.run(f"ls -a {root}").stdout.count(b".colablink-up.") == 0


def test_missing_paths_are_one_sentence_errors(
    session: Session, runtime: RuntimeHandle, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        transfer.upload(session, tmp_path / "nope", "x", root=runtime.remote_root)
    with pytest.raises(RemoteError, match="No such file") as info:
        transfer.download(session, "nope", tmp_path / "x", root=runtime.remote_root)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_download_skips_links_that_leave_the_copy(
    session: Session, runtime: RuntimeHandle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    script = (
        "mkdir -p venv/bin && echo ok > venv/ok && ln -s /usr/bin/python3 venv/bin/python"
        " && ln -s ../../.. venv/bin/up && ln -s ../ok venv/bin/inside"
    )
    assert session.run(script, cwd=runtime.remote_root).exit_code == 0
    landed = transfer.download(session, "venv", tmp_path, root=runtime.remote_root)
    assert (landed / "ok").read_text() == "ok\n"
    assert os.readlink(landed / "bin" / "inside") == "../ok"
    assert sorted(p.name for p in (landed / "bin").iterdir()) == ["inside"]
    assert "Skipped bin/python" in caplog.text and "Skipped bin/up" in caplog.text
