"""The pure rules: path checks, ignore matching, push and pull decisions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from colablink.pathsafety import UnsafePath, check_remote_relpath, local_destination
from colablink.sync.ignore import IgnoreRules
from colablink.sync.reconcile import compare_file, decide_pull, plan_push
from colablink.sync.scan import Meta, scan_local

NS = 1_700_000_000_123_456_789


@pytest.mark.parametrize(
    "bad",
    [
        *("", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/.", "a/", "..", "a/.."),
        *("nul\x00", "C:/x", "a\\b"),
    ],
)
def test_unsafe_remote_paths_are_refused(bad: str) -> None:
    with pytest.raises(UnsafePath):
        check_remote_relpath(bad)


def test_plain_remote_paths_pass() -> None:
    assert check_remote_relpath("ckpt/epoch 1/model – ü.bin") == "ckpt/epoch 1/model – ü.bin"
    for name in ("...", "a/..b", "..a/.b", ".env"):
        assert check_remote_relpath(name) == name


def test_local_writes_never_pass_through_a_local_symlink(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, outputs / "ckpt")
    os.symlink(elsewhere / "file", outputs / "link")
    with pytest.raises(UnsafePath):
        local_destination(outputs, "ckpt/model.bin", create_parents=True)
    with pytest.raises(UnsafePath):
        local_destination(outputs, "link", create_parents=True)
    assert local_destination(outputs, "new/dir/f", create_parents=True) == outputs / "new/dir/f"
    assert list(elsewhere.iterdir()) == []


def test_ignore_rules_match_whole_names_not_substrings(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.log\n/build/\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_text("secret.txt\n")
    rules = IgnoreRules(tmp_path, ignored_dirs=["outputs"], excludes=["data/"])
    assert rules.ignored("environment.py", False) is False  # not ".env"-like substring games
    assert rules.ignored("distill.py", False) is False
    assert rules.ignored("a/b/c.pyc", False)
    assert rules.ignored("x/__pycache__", True)
    assert rules.ignored("x/__pycache__/m.py", False)
    assert rules.ignored("node_modules/a/b.js", False)
    assert rules.ignored("run.log", False) and rules.ignored("deep/run.log", False)
    assert rules.ignored("build", True) and not rules.ignored("src/build", True)
    assert rules.ignored("sub/secret.txt", False) and not rules.ignored("secret.txt", False)
    assert rules.ignored("outputs/r.txt", False) and rules.ignored("data/raw.csv", False)
    assert not rules.ignored("outputs_old/r.txt", False)


def test_same_size_edits_are_never_taken_for_unchanged() -> None:
    mine = Meta("f", 9, NS, 0o644)
    assert compare_file(mine, Meta("f", 9, NS, 0o644)) == "same"
    assert compare_file(mine, Meta("f", 9, NS - 1, 0o644)) == "doubt"  # same second, other ns
    assert compare_file(mine, Meta("f", 8, NS, 0o644)) == "send"
    whole = Meta("f", 9, 1_700_000_000 * 10**9, 0o644)
    assert compare_file(whole, whole) == "doubt"  # a coarse clock proves nothing


def test_push_deletes_only_what_it_placed() -> None:
    local = {"a.py": Meta("f", 1, NS, 0o644)}
    remote = {
        "a.py": Meta("f", 1, NS, 0o644),
        "gone.py": Meta("f", 1, NS, 0o644),
        "theirs.bin": Meta("f", 1, NS, 0o644),
    }
    placed = {"gone.py": Meta("f", 1, NS, 0o644)}
    plan = plan_push(local, remote, placed)
    assert plan.deletes == [("gone.py", "f")]
    assert plan.puts == [] and "a.py" in plan.adopt


def test_pull_never_overwrites_a_file_it_did_not_place() -> None:
    remote = Meta("f", 5, NS, 0o644)
    mine = Meta("f", 3, NS - 5, 0o644)
    assert decide_pull(remote, mine, None)[0] == "refuse"
    assert decide_pull(remote, None, None)[0] == "read"
    placed_local = Meta("f", 4, NS - 9, 0o644)
    record = (Meta("f", 4, NS - 9, 0o644), placed_local)
    assert decide_pull(remote, placed_local, record)[0] == "read"  # ours, unchanged: refresh
    assert decide_pull(remote, mine, record)[0] == "refuse"  # edited locally since: keep
    assert decide_pull(Meta("l", 0, NS, 0o777), None, None)[0] == "refuse"


def test_the_scan_reads_a_stat_as_the_agent_does(tmp_path: Path) -> None:
    """The scan reads stats inline: the same kinds, sizes, mtimes and modes as the agent's."""
    (tmp_path / "d").mkdir(mode=0o750)
    (tmp_path / "d" / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "d" / "run.sh").chmod(0o755)
    (tmp_path / "link").symlink_to("d/run.sh")
    os.mkfifo(tmp_path / "fifo")
    scanned = scan_local(tmp_path, links=True)
    assert scanned == {
        rel: Meta.from_stat((tmp_path / rel).lstat()) for rel in ("d", "d/run.sh", "link")
    }
    assert scanned["link"].size == 0 and scanned["d/run.sh"].mode == 0o755
    assert "link" not in scan_local(tmp_path)
