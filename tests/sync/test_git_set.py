"""The synced set is git's set: ``scan_local`` against the real ``git ls-files`` answer.

Generated trees (nested ``.gitignore`` files, negations at every depth, directory-only
patterns, ``**``, escaped characters, tracked-but-ignored files, ``.git/info/exclude`` and
``core.excludesFile``) and the project's own checkout are compared with what git itself lists,
minus ColabLink's documented built-in exclusions.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from colablink.sync.ignore import BUILTIN_DIR_NAMES, IgnoreRules
from colablink.sync.scan import scan_local
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
DIRS = ("", "d1", "d2", "d1/d2", "d2/d1", "d1/d2/d1", "s p")
NAMES = ("a", "b.log", "c.py", "d e.txt", "#f", "!g", "h[1]", "k.tmp")
PATTERNS = (
    "*.log",
    "!*.log",
    "b.log",
    "!b.log",
    "d1/",
    "!d1/",
    "d1",
    "!d2",
    "**/c.py",
    "d1/**/a",
    "!d2/a",
    "/a",
    "a",
    "\\#f",
    "\\!g",
    "!\\!g",
    "d e.txt",
    "h\\[1\\]",
    "h[1]",
    "*.py",
    "!c.py",
    "d2/*",
    "!d2/d1/",
    "**/d1/",
    "a/",
    "*.tmp",
    "!k.tmp",
    "s p/",
    "d2/**",
    "# comment",
    "",
    "*",
)


def git(root: Path, *args: str) -> bytes:
    done = subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        capture_output=True,
        check=True,
    )
    return done.stdout


def git_set(root: Path) -> set[str]:
    """What git would commit, minus the built-ins ColabLink never sends."""
    listed = git(root, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    out: set[str] = set()
    for raw in listed.split(b"\0"):
        rel = raw.decode()
        parts = rel.split("/")
        builtin = set(parts) & set(BUILTIN_DIR_NAMES) or rel.endswith(".pyc")
        if rel and not builtin and (root / rel).is_file() and not (root / rel).is_symlink():
            out.add(rel)
    return out


def our_set(root: Path) -> set[str]:
    return {rel for rel, meta in scan_local(root, IgnoreRules(root)).items() if meta.kind == "f"}


patterns = st.lists(st.sampled_from(PATTERNS), max_size=5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=st.sets(st.tuples(st.sampled_from(DIRS), st.sampled_from(NAMES)), min_size=1),
    ignores=st.dictionaries(st.sampled_from(DIRS), patterns, max_size=4),
    tracked=st.sets(st.integers(0, 40), max_size=6),
    info_exclude=patterns,
    excludes_file=patterns,
)
def test_generated_trees_sync_exactly_what_git_lists(
    files: set[tuple[str, str]],
    ignores: dict[str, list[str]],
    tracked: set[int],
    info_exclude: list[str],
    excludes_file: list[str],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "p"
        root.mkdir()
        git(root, "init", "-q")
        paths = sorted(f"{d}/{n}" if d else n for d, n in files)
        for rel in paths:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(rel)
        # Tracked first (some will match the ignore rules written afterwards).
        chosen = [paths[i % len(paths)] for i in tracked]
        if chosen:
            git(root, "add", "-f", "--", *chosen)
        for d, lines in ignores.items():
            (root / d).mkdir(parents=True, exist_ok=True)
            (root / d / ".gitignore").write_text("\n".join(lines) + "\n")
        (root / ".git" / "info").mkdir(exist_ok=True)
        (root / ".git" / "info" / "exclude").write_text("\n".join(info_exclude) + "\n")
        private = Path(tmp) / "private-ignore"
        private.write_text("\n".join(excludes_file) + "\n")
        git(root, "config", "core.excludesFile", str(private))
        assert our_set(root) == git_set(root)


def test_the_projects_own_checkout_syncs_what_git_lists(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(REPO), str(root)], check=True)
    # What a working checkout also holds: a venv, caches, build output, private notes.
    extra = {
        ".venv/lib/x.py": "",
        "server/colablink/__pycache__/m.pyc": "",
        "dist/x.whl": "",
        "node_modules/p/index.js": "",
        "notes.private": "",
        "server/new_module.py": "",
        "extension/out/extension.js": "",
    }
    for rel, text in extra.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / ".git" / "info" / "exclude").write_text("*.private\n")
    ours, gits = our_set(root), git_set(root)
    assert "server/new_module.py" in ours and "notes.private" not in ours
    assert len(gits) > 100
    assert ours == gits
