"""Downloads from a hostile runtime never write outside their target, and cp -r's rules hold."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from colablink.ssh import transfer
from colablink.ssh.session import Session
from support.runtimes import RuntimeHandle

from .hostile import plant_fake_tar, remove_fake_tar, snapshot


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "victim.txt").write_text("precious\n")
    (home / "source.py").write_text("print('mine')\n")
    return home / "victim.txt"


def test_a_crafted_stream_writes_nothing_outside_the_download(
    session: Session,
    runtime: RuntimeHandle,
    tmp_path: Path,
    victim: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert session.run("mkdir -p outputs", cwd=runtime.remote_root).exit_code == 0
    plant_fake_tar(runtime.username, victim)
    downloads = tmp_path / "home" / "downloads"
    downloads.mkdir()
    before = snapshot(tmp_path)
    caplog.set_level(logging.WARNING, logger="colablink.ssh.transfer")
    try:
        landed = transfer.download(session, "outputs", downloads, root=runtime.remote_root)
    finally:
        remove_fake_tar(runtime.username)
    after = snapshot(tmp_path)
    changed = {
        rel
        for rel in set(before) | set(after)
        if before.get(rel) != after.get(rel) and not rel.startswith("home/downloads/outputs")
    }
    assert changed == set(), "the download wrote outside its target"
    assert victim.read_text() == "precious\n"
    assert landed == downloads / "outputs"
    assert (landed / "ok.txt").read_text() == "fine\n"
    mode = (landed / "run.sh").stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o777 & ~umask, "only the executable bit travels; never setuid"
    assert not (landed / "out").is_symlink() and not (landed / "escape").is_symlink()
    assert not (landed / "hard").exists() and not (landed / "fifo").exists()
    assert not (landed / "dev").exists()
    log = caplog.text
    assert "Skipped" in log
    assert "\x1b" not in log and "\\x1b]0;retitled\\x07" in log
    assert [p for p in downloads.iterdir() if p.name.startswith(".colablink")] == []


def test_many_refused_entries_log_a_bounded_summary(
    session: Session, runtime: RuntimeHandle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    script = "mkdir -p many && cd many && for i in $(seq 300); do ln -s /etc/passwd l$i; done"
    assert session.run(script, cwd=runtime.remote_root).exit_code == 0
    caplog.set_level(logging.WARNING, logger="colablink.ssh.transfer")
    landed = transfer.download(session, "many", tmp_path, root=runtime.remote_root)
    assert list(landed.iterdir()) == []
    assert caplog.text.count("Skipped l") == transfer._Skipped.SHOWN
    assert f"Skipped {300 - transfer._Skipped.SHOWN} more entries" in caplog.text


def test_directory_downloads_merge_as_cp_does(
    session: Session, runtime: RuntimeHandle, tmp_path: Path
) -> None:
    root = runtime.remote_root
    script = "mkdir -p tree/sub && echo new > tree/a && echo deep > tree/sub/b && echo f > f"
    assert session.run(script, cwd=root).exit_code == 0
    existing = tmp_path / "existing"
    (existing / "sub").mkdir(parents=True)
    (existing / "mine").write_text("local only")
    (existing / "a").write_text("old")
    # SRC/. copies the contents into an existing directory, keeping what only exists here.
    assert transfer.download(session, "tree/.", existing, root=root) == existing
    assert sorted(p.name for p in existing.iterdir()) == ["a", "mine", "sub"]
    assert (existing / "a").read_text() == "new\n"
    assert (existing / "sub" / "b").read_text() == "deep\n"
    # "." is the source root's contents: merged the same way.
    assert transfer.download(session, ".", existing, root=f"{root}/tree") == existing
    assert (existing / "mine").read_text() == "local only"
    # A trailing slash on a missing directory makes it and puts the file inside, as cp does.
    assert transfer.download(session, "f", f"{tmp_path}/newdir/", root=root) == (
        tmp_path / "newdir" / "f"
    )
    assert (tmp_path / "newdir" / "f").read_text() == "f\n"


def test_a_local_symlink_in_the_way_is_never_followed(
    session: Session, runtime: RuntimeHandle, tmp_path: Path, victim: Path
) -> None:
    root = runtime.remote_root
    assert session.run("mkdir -p t/sub && echo x > t/sub/victim.txt", cwd=root).exit_code == 0
    dest = tmp_path / "dest" / "t"
    dest.mkdir(parents=True)
    (dest / "sub").symlink_to(victim.parent)
    transfer.download(session, "t", dest.parent, root=root)
    assert victim.read_text() == "precious\n"
    assert (dest / "sub").is_symlink()
