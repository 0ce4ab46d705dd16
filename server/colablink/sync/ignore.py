"""Which local paths push leaves alone: git's set, minus ColabLink's own exclusions.

ColabLink's exclusions (built-ins, ``.colablinkignore``, ``--exclude``, every local connection
directory) always win. Everything else is decided the way git decides: a tracked file is never
ignored; otherwise the deepest ``.gitignore`` with a matching pattern decides (its last match,
so a ``!`` in a deeper file overrides a parent's pattern), then ``.git/info/exclude``, then
``core.excludesFile``; an untracked path under an excluded directory is excluded. Outside a git
work tree only the ``.gitignore`` files apply, by the same precedence.

Paths are posix, relative to the project root. Decisions for directories are memoised until a
rule file or git's index changes; nothing here holds a lock across a read.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from colablink.sync.gitpattern import PatternList

BUILTIN_PATTERNS: tuple[str, ...] = (".git/", "__pycache__/", "*.pyc", ".venv/", "node_modules/")
# Directory names the remote agent can skip while listing, without asking us.
BUILTIN_DIR_NAMES: tuple[str, ...] = (".git", "__pycache__", ".venv", "node_modules")
GITIGNORE = ".gitignore"
COLABLINKIGNORE = ".colablinkignore"
GIT_INDEX = ".git/index"
GIT_INFO_EXCLUDE = ".git/info/exclude"
GIT_TIMEOUT = 60.0


def _read_spec(path: Path) -> PatternList | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return PatternList(text.splitlines())


def _git(root: Path, *args: str) -> bytes | None:
    """``git -C root args`` stdout, or None when git is missing or says no."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},  # never refresh (write) the index
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _decide(patterns: PatternList | None, rel: str, is_dir: bool) -> bool | None:
    return None if patterns is None else patterns.decide(rel, is_dir)


class GitInfo:
    """What git itself adds to the ``.gitignore`` files: the tracked set and private excludes.

    Only used when the project root is the top of a git work tree."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tracked: frozenset[str] = frozenset()
        self.tracked_dirs: frozenset[str] = frozenset()
        self.info_exclude: PatternList | None = None
        self.excludes_file: PatternList | None = None

    @staticmethod
    def find(root: Path) -> GitInfo | None:
        top = _git(root, "rev-parse", "--show-toplevel")
        if top is None or Path(os.fsdecode(top.strip())).resolve() != root.resolve():
            return None
        info = GitInfo(root)
        info.reload()
        return info

    def reload(self) -> bool:
        """Read it all again; True when anything changed (an index rewrite often changes none)."""
        before = (self.tracked, self.info_exclude, self.excludes_file)
        listed = _git(self.root, "ls-files", "--cached", "-z")
        tracked = [os.fsdecode(p) for p in (listed or b"").split(b"\0") if p]
        dirs: set[str] = set()
        for rel in tracked:
            parent = rel.rpartition("/")[0]
            while parent and parent not in dirs:
                dirs.add(parent)
                parent = parent.rpartition("/")[0]
        self.tracked = frozenset(tracked)
        self.tracked_dirs = frozenset(dirs)
        self.info_exclude = _read_spec(self.root / GIT_INFO_EXCLUDE)
        configured = _git(self.root, "config", "--path", "core.excludesFile")
        if configured is not None and configured.strip():
            path = Path(os.fsdecode(configured.strip())).expanduser()
        else:
            xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
            path = Path(xdg) / "git" / "ignore"
        self.excludes_file = _read_spec(path if path.is_absolute() else self.root / path)
        return before != (self.tracked, self.info_exclude, self.excludes_file)


class IgnoreRules:
    def __init__(
        self, root: Path, *, ignored_dirs: Sequence[str] = (), excludes: Sequence[str] = ()
    ) -> None:
        self.root = root
        self.ignored_dirs = frozenset(d.strip("/") for d in ignored_dirs if d.strip("/"))
        self.fixed = PatternList([*BUILTIN_PATTERNS, *excludes])
        self.gitignores: dict[str, PatternList | None] = {}
        self.colablinkignore = _read_spec(root / COLABLINKIGNORE)
        self.git = GitInfo.find(root)
        self._fixed_dirs: dict[str, bool] = {}
        self._excluded_dirs: dict[str, bool] = {}

    def _gitignore(self, rel_dir: str) -> PatternList | None:
        if rel_dir not in self.gitignores:
            name = f"{rel_dir}/{GITIGNORE}" if rel_dir else GITIGNORE
            self.gitignores[rel_dir] = _read_spec(self.root / name)
        return self.gitignores.get(rel_dir)

    def changed(self, rel: str) -> bool:
        """Forget what a rule file (or git's index) said after it was edited; False when it
        provably says the same (git rewrites its index on every ``git status``)."""
        name = rel.rsplit("/", 1)[-1]
        if rel in (GIT_INDEX, GIT_INFO_EXCLUDE):
            if self.git is None or not self.git.reload():
                return False
        elif name == GITIGNORE:
            self.gitignores.pop(rel.rpartition("/")[0], None)
        elif rel == COLABLINKIGNORE:
            self.colablinkignore = _read_spec(self.root / COLABLINKIGNORE)
        self._fixed_dirs = {}
        self._excluded_dirs = {}
        return True

    def is_rule_file(self, rel: str) -> bool:
        if rel in (COLABLINKIGNORE, GIT_INFO_EXCLUDE):
            return True
        if rel == GIT_INDEX:
            return self.git is not None
        return rel.rsplit("/", 1)[-1] == GITIGNORE

    def ignored(self, rel: str, is_dir: bool) -> bool:
        if self._fixed(rel, is_dir):
            return True
        if self.git is not None and (
            rel in self.git.tracked or (is_dir and rel in self.git.tracked_dirs)
        ):
            return False
        return self._excluded(rel, is_dir)

    # -- ColabLink's own exclusions: they win over git ---------------------------------------

    def _fixed(self, rel: str, is_dir: bool) -> bool:
        parent = rel.rpartition("/")[0]
        if parent and self._fixed_dir(parent):
            return True
        return self._fixed_here(rel, is_dir)

    def _fixed_dir(self, rel: str) -> bool:
        known = self._fixed_dirs.get(rel)
        if known is None:
            known = self._fixed(rel, True)
            self._fixed_dirs[rel] = known
        return known

    def _fixed_here(self, rel: str, is_dir: bool) -> bool:
        if is_dir and rel in self.ignored_dirs:
            return True
        if self.fixed.decide(rel, is_dir):
            return True
        return bool(_decide(self.colablinkignore, rel, is_dir))

    # -- git's patterns ------------------------------------------------------------------------

    def _excluded(self, rel: str, is_dir: bool) -> bool:
        parent = rel.rpartition("/")[0]
        if parent and self._excluded_dir(parent):
            return True
        return self._pattern_says(rel, is_dir)

    def _excluded_dir(self, rel: str) -> bool:
        known = self._excluded_dirs.get(rel)
        if known is None:
            known = self._excluded(rel, True)
            self._excluded_dirs[rel] = known
        return known

    def _pattern_says(self, rel: str, is_dir: bool) -> bool:
        parts = rel.split("/")
        for depth in range(len(parts) - 1, -1, -1):  # deepest .gitignore first
            decided = _decide(
                self._gitignore("/".join(parts[:depth])), "/".join(parts[depth:]), is_dir
            )
            if decided is not None:
                return decided
        if self.git is not None:
            for patterns in (self.git.info_exclude, self.git.excludes_file):
                decided = _decide(patterns, rel, is_dir)
                if decided is not None:
                    return decided
        return False
