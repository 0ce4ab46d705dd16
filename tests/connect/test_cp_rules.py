"""``download`` follows ``cp -r`` exactly, with and without the agent: ``dir/.`` and ``.`` merge
into an existing directory, and a missing directory named with a trailing slash gets the file."""

from __future__ import annotations

from pathlib import Path

from .conftest import Setup


def test_download_follows_cp_r(live: Setup, mode: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "new.txt").write_text("new")
    (src / "top.txt").write_text("top v2")
    remote = f"cp-{mode}"
    assert live.cli("upload", str(src), remote).returncode == 0

    existing = tmp_path / "existing"
    (existing / "sub").mkdir(parents=True)
    (existing / "sub" / "mine.txt").write_text("mine")
    (existing / "top.txt").write_text("top v1")
    down = live.cli("download", f"{remote}/.", str(existing))
    assert down.returncode == 0, down.stderr
    assert (existing / "sub" / "mine.txt").read_text() == "mine"  # merged, not replaced
    assert (existing / "sub" / "new.txt").read_text() == "new"
    assert (existing / "top.txt").read_text() == "top v2"
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".colablink")] == []

    here = tmp_path / "here"
    here.mkdir()
    (here / "keep.txt").write_text("keep")
    down = live.cli("download", ".", str(here))  # the whole remote root, merged
    assert down.returncode == 0, down.stderr
    assert (here / "keep.txt").read_text() == "keep"
    assert (here / remote / "top.txt").read_text() == "top v2"

    fresh = tmp_path / "newdir"
    down = live.cli("download", f"{remote}/top.txt", str(fresh) + "/")
    assert down.returncode == 0, down.stderr
    assert (fresh / "top.txt").read_text() == "top v2"
