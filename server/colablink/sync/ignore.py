"""Which local paths push leaves alone: built-ins, ``.gitignore`` files, ``.colablinkignore``,
``--exclude`` patterns and every local connection (output) directory.

Paths are posix, relative to the project root. A path is ignored when it or any parent is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pathspec

BUILTIN_PATTERNS: tuple[str, ...] = (".git/", "__pycache__/", "*.pyc", ".venv/", "node_modules/")
# Directory names the remote agent can skip while listing, without asking us.
BUILTIN_DIR_NAMES: tuple[str, ...] = (".git", "__pycache__", ".venv", "node_modules")
GITIGNORE = ".gitignore"
COLABLINKIGNORE = ".colablinkignore"


def _spec(lines: Iterable[str]) -> pathspec.PathSpec[Any]:
    return pathspec.GitIgnoreSpec.from_lines(list(lines))


class IgnoreRules:
    def __init__(
        self, root: Path, *, ignored_dirs: Sequence[str] = (), excludes: Sequence[str] = ()
    ) -> None:
        self.root = root
        self.ignored_dirs = tuple(d.strip("/") for d in ignored_dirs if d.strip("/"))
        self.fixed = _spec([*BUILTIN_PATTERNS, *excludes])
        self.gitignores: dict[str, pathspec.PathSpec[Any] | None] = {}
        self.colablinkignore = self._load(COLABLINKIGNORE)

    def _load(self, rel: str) -> pathspec.PathSpec[Any] | None:
        try:
            text = (self.root / rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        return _spec(text.splitlines())

    def _gitignore(self, rel_dir: str) -> pathspec.PathSpec[Any] | None:
        if rel_dir not in self.gitignores:
            name = f"{rel_dir}/{GITIGNORE}" if rel_dir else GITIGNORE
            self.gitignores[rel_dir] = self._load(name)
        return self.gitignores[rel_dir]

    def changed(self, rel: str) -> None:
        """Forget a cached ignore file after it was edited."""
        name = rel.rsplit("/", 1)[-1]
        if name == GITIGNORE:
            self.gitignores.pop(rel.rpartition("/")[0], None)
        elif rel == COLABLINKIGNORE:
            self.colablinkignore = self._load(COLABLINKIGNORE)

    def is_rule_file(self, rel: str) -> bool:
        return rel == COLABLINKIGNORE or rel.rsplit("/", 1)[-1] == GITIGNORE

    def ignored(self, rel: str, is_dir: bool, *, check_parents: bool = True) -> bool:
        if check_parents:
            parts = rel.split("/")
            for i in range(1, len(parts)):
                if self._ignored_here("/".join(parts[:i]), True):
                    return True
        return self._ignored_here(rel, is_dir)

    def _ignored_here(self, rel: str, is_dir: bool) -> bool:
        if is_dir and rel in self.ignored_dirs:
            return True
        probe = rel + "/" if is_dir else rel
        if self.fixed.match_file(probe):
            return True
        if self.colablinkignore is not None and self.colablinkignore.match_file(probe):
            return True
        parts = rel.split("/")
        for i in range(len(parts)):
            base = "/".join(parts[:i])
            spec = self._gitignore(base)
            if spec is not None and spec.match_file("/".join(parts[i:]) + ("/" if is_dir else "")):
                return True
        return False
