"""Where "Run on Colab" lenses go in a Python file, and what they run.

A file lens sits above line 0 and above ``if __name__ == "__main__":``; a cell lens above each
``# %%`` marker. Cell ranges are 0-based and inclusive, marker line excluded.
"""

from __future__ import annotations

import re

from lsprotocol import types

from colablink.helper.protocol import LensCommand

_MAIN_GUARD = re.compile(r"""^if\s+__name__\s*==\s*(['"])__main__\1\s*:""")
_CELL_MARKER = re.compile(r"^\s*#\s*%%")

RUN_FILE_TITLE = "▶ Run on Colab"
RUN_CELL_TITLE = "▶ Run cell on Colab"


def _lens(line: int, title: str, command: str, arguments: list[object]) -> types.CodeLens:
    position = types.Position(line=line, character=0)
    return types.CodeLens(
        range=types.Range(start=position, end=position),
        command=types.Command(title=title, command=command, arguments=arguments),
    )


def code_lenses(text: str, relative_path: str) -> list[types.CodeLens]:
    lines = text.splitlines()
    file_lines = [0] + [n for n, line in enumerate(lines) if n and _MAIN_GUARD.match(line)]
    lenses = [_lens(n, RUN_FILE_TITLE, LensCommand.RUN_FILE, [relative_path]) for n in file_lines]
    markers = [n for n, line in enumerate(lines) if _CELL_MARKER.match(line)]
    for index, marker in enumerate(markers):
        end = markers[index + 1] - 1 if index + 1 < len(markers) else len(lines) - 1
        start = marker + 1
        if start > end:
            continue
        arguments: list[object] = [relative_path, start, end]
        lenses.append(_lens(marker, RUN_CELL_TITLE, LensCommand.RUN_CELL, arguments))
    return lenses
