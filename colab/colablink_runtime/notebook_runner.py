"""Runs on the runtime: executes a notebook headless with nbclient (``colablink run``).

Started by ``colablink run`` as a supervised run with the server's interpreter (the one that has
nbclient) and ``jupyter_env``'s ``JUPYTER_PATH``, so the kernel is the runtime's ``python3``:
``python notebook_runner.py NOTEBOOK OUTPUT``. The kernel's cwd is the notebook's folder. Progress
lines per code cell on stderr; the executed notebook, outputs and the traceback of a failing cell
included, is written to OUTPUT (0600), which the local side fetches. Exit codes: 0 all cells ran,
1 a cell failed (one line on stdout names it: ``cell 3 failed: NameError: …``; cells are numbered
from 1 as the notebook shows them, markdown included), 2 the notebook could not be read or run.
"""

from __future__ import annotations

# ruff: noqa: PTH100, PTH105, PTH120
import os
import sys
import time
from typing import Any


def say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def write_private(path: str, data: str) -> None:
    temp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(data)
    os.replace(temp, path)


def main(argv: list[str]) -> int:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    source, output = argv
    try:
        notebook = nbformat.read(source, as_version=4)  # type: ignore[no-untyped-call]
    except Exception as exc:
        say(f"{source} is not a notebook nbformat can read: {exc}")
        return 2
    cells = notebook.cells
    total = len(cells)
    started: dict[int, float] = {}
    current = [0]  # the number of the cell running now

    def on_start(cell: Any, cell_index: int, **_: Any) -> None:
        if cell.get("cell_type") != "code":
            return
        started[cell_index] = time.monotonic()
        current[0] = cell_index + 1
        say(f"cell {cell_index + 1}/{total} running")

    def on_executed(cell: Any, cell_index: int, **_: Any) -> None:
        seconds = time.monotonic() - started.get(cell_index, time.monotonic())
        if not any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            say(f"cell {cell_index + 1}/{total} done in {seconds:.1f} s")

    client = NotebookClient(
        notebook,
        timeout=None,
        kernel_name="python3",
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(source))}},
        on_cell_start=on_start,
        on_cell_executed=on_executed,
    )
    code, last = 0, ""
    try:
        client.execute()
    except CellExecutionError as exc:
        last, code = f"cell {current[0]} failed: {exc.ename}: {exc.evalue}", 1
    except DeadKernelError:
        last, code = f"cell {current[0]} failed: the kernel died (out of memory?)", 1
    except Exception as exc:
        last, code = f"the notebook could not be run: {type(exc).__name__}: {exc}", 2
    write_private(output, nbformat.writes(notebook))  # type: ignore[no-untyped-call]
    if last:  # on stdout: the one line the local side reports as the failure
        print(last, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
