"""One ignore file's patterns, matched the way git matches them (``gitignore(5)``, wildmatch).

A pattern matches a path itself, never "something inside it": what lies below an excluded
directory is excluded by the caller walking parents first, as git does. Within one file the
last matching pattern decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool
    basename: bool  # no slash: matched against the last component, at any depth


def _class(text: str, i: int) -> tuple[str, int] | None:
    """A ``[...]`` bracket expression at ``text[i]`` as a regex class, and where it ends."""
    j = i + 1
    negate = j < len(text) and text[j] in "!^"
    if negate:
        j += 1
    body: list[str] = []
    first = True
    while j < len(text) and (text[j] != "]" or first):
        char = text[j]
        if char == "\\" and j + 1 < len(text):
            j += 1
            char = text[j]
        body.append(re.escape(char) if char != "-" else "-")
        first = False
        j += 1
    if j >= len(text):
        return None  # no closing bracket: a literal "["
    return ("[^/" if negate else "[") + "".join(body) + "]", j + 1


def _translate(glob: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**", i) and (i == 0 or glob[i - 1] == "/"):
            end = i + 2
            if end == len(glob):
                out.append(".*")
                i = end
                continue
            if glob[end] == "/":
                out.append("(?:.*/)?")
                i = end + 1
                continue
        if char == "*":
            while i < len(glob) and glob[i] == "*":
                i += 1
            out.append("[^/]*")
            continue
        if char == "?":
            out.append("[^/]")
        elif char == "[":
            bracket = _class(glob, i)
            if bracket is not None:
                out.append(bracket[0])
                i = bracket[1]
                continue
            out.append(re.escape(char))
        elif char == "\\" and i + 1 < len(glob):
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def parse_line(line: str) -> Pattern | None:
    if not line or line.startswith("#"):
        return None
    # Trailing spaces are dropped unless escaped with a backslash.
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(line):
        stripped += " "
    line = stripped
    negated = line.startswith("!")
    if negated:
        line = line[1:]
    dir_only = line.endswith("/") and not line.endswith("\\/")
    if dir_only:
        line = line.rstrip("/")
    if not line:
        return None
    basename = "/" not in line
    if line.startswith("/"):
        line = line[1:]
    return Pattern(re.compile(_translate(line) + r"\Z", re.DOTALL), negated, dir_only, basename)


def _union(patterns: list[Pattern]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p.regex.pattern})" for p in patterns), re.DOTALL)


class PatternList:
    def __init__(self, lines: Iterable[str]) -> None:
        self.patterns = [p for p in map(parse_line, lines) if p is not None]
        # Without a negation the order does not matter: any match excludes, so the list is
        # one regex per (kind of path, what it is matched against). This runs per scanned entry.
        self.unions: dict[bool, tuple[re.Pattern[str] | None, re.Pattern[str] | None]] | None
        self.unions = None
        if not any(p.negated for p in self.patterns):
            self.unions = {
                is_dir: (
                    _union([p for p in self.patterns if p.basename and (is_dir or not p.dir_only)]),
                    _union(
                        [p for p in self.patterns if not p.basename and (is_dir or not p.dir_only)]
                    ),
                )
                for is_dir in (False, True)
            }

    def decide(self, rel: str, is_dir: bool) -> bool | None:
        """True excluded, False re-included by a negation, None no pattern matched.
        ``rel`` is relative to the directory holding the file."""
        name = rel.rsplit("/", 1)[-1]
        if self.unions is not None:
            by_name, by_path = self.unions[is_dir]
            if (by_name is not None and by_name.match(name)) or (
                by_path is not None and by_path.match(rel)
            ):
                return True
            return None
        for pattern in reversed(self.patterns):
            if pattern.dir_only and not is_dir:
                continue
            if pattern.regex.match(name if pattern.basename else rel):
                return not pattern.negated
        return None
