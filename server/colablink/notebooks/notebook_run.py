"""A notebook of the synced tree executed headless on the runtime (nbclient), and fetched back.

The run is a supervised one (``jupyter_env.py run-notebook``, which sets the environment up when
needed and becomes ``notebook_runner.py``), so it rides out a dropped link; its progress lines
(one per cell, then ``cell N failed: …`` for a failing one) go to ``on_progress``. The executed
notebook comes from the runtime, so it is treated as hostile: at most ``MAX_NOTEBOOK`` bytes are
read, it must parse as a notebook, and it is written atomically to exactly the requested path.
"""

from __future__ import annotations

import json
import os
import posixpath
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from colablink.errors import ColabLinkError, RemoteError, UsageError
from colablink.local.localfiles import write_atomic
from colablink.notebooks.jupyter_server import (
    LOADER,
    LineSplitter,
    Progress,
    folder,
    programs_blob,
)
from colablink.notebooks.runtime_link import RuntimeLink

MAX_NOTEBOOK = 256 << 20


@dataclass(frozen=True)
class NotebookRun:
    """How it went: exit code 0 (every cell ran) or 1 (``failure`` names the cell)."""

    exit_code: int
    failure: str | None
    output: Path


def remote_notebook(link: RuntimeLink, local: Path) -> str:
    """The notebook's path relative to the synced tree; refused outside it or in the outputs."""
    profile = link.profile
    path = local.absolute()
    if path.suffix != ".ipynb":
        raise UsageError(f"{local} is not a notebook (an .ipynb file).")
    if not path.is_file():
        raise UsageError(f"{local} does not exist.")
    root = Path(os.path.realpath(profile.project_root))
    real = Path(os.path.realpath(path))
    if root not in real.parents:
        raise UsageError(
            f"{local} is outside the synced folder {root}, so the runtime has no copy."
        )
    outputs = Path(os.path.realpath(profile.local_conn_dir))
    if real == outputs or outputs in real.parents:
        raise UsageError(f"{local} is in the outputs folder, which is not pushed to the runtime.")
    return real.relative_to(root).as_posix()


def default_output(notebook: Path) -> Path:
    """Beside the input: ``train.ipynb`` → ``train.out.ipynb``."""
    return notebook.with_name(f"{notebook.stem}.out.ipynb")


def run_notebook(
    link: RuntimeLink,
    rel: str,
    output: Path,
    *,
    on_progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> NotebookRun:
    """Execute the synced notebook ``rel`` (already pushed) and write the result to ``output``."""
    root = link.profile.remote_root
    remote = posixpath.join(root, rel)
    executed = posixpath.join(folder(root), "executed", f"{secrets.token_hex(8)}.ipynb")
    progress = LineSplitter(on_progress)
    failure = LineSplitter(None)
    code = link.exec(
        ["python3", "-c", LOADER, root, programs_blob(), "run-notebook", root, remote, executed],
        on_stdout=failure.feed,
        on_stderr=progress.feed,
        cancel=cancel or threading.Event(),
    )
    progress.close()
    failure.close()
    if code not in (0, 1):
        why = (failure.last or progress.last).rstrip(".") or f"it exited with {code}"
        raise RemoteError(f"The notebook could not be run on the runtime: {why}.")
    data = _fetch(link, executed)
    _check_notebook(data)
    _write(output, data)
    return NotebookRun(code, (failure.last or "a cell failed") if code else None, output)


def _fetch(link: RuntimeLink, path: str) -> bytes:
    """The executed notebook's bytes (at most ``MAX_NOTEBOOK``), removed from the runtime."""
    out = bytearray()
    err = bytearray()
    script = 'head -c "$1" -- "$2"; s=$?; rm -f -- "$2"; exit $s'
    code = link.exec(
        ["sh", "-c", script, "sh", str(MAX_NOTEBOOK + 1), path],
        on_stdout=out.extend,
        on_stderr=err.extend,
        cancel=threading.Event(),
    )
    if code != 0:
        raise RemoteError("The runtime did not send the executed notebook back.")
    if len(out) > MAX_NOTEBOOK:
        raise RemoteError(
            f"The executed notebook is larger than {MAX_NOTEBOOK >> 20} MiB; it was not fetched."
        )
    return bytes(out)


def _check_notebook(data: bytes) -> None:
    try:
        notebook = json.loads(data)
    except ValueError:
        notebook = None
    if not (isinstance(notebook, dict) and isinstance(notebook.get("cells"), list)):
        raise RemoteError("The runtime sent back something that is not a notebook.")


def _write(output: Path, data: bytes) -> None:
    """Atomically, at ``output`` itself: a symlink there is replaced, never followed."""
    target = output.absolute()
    if not target.parent.is_dir():
        raise UsageError(f"The folder {target.parent} does not exist.")
    if target.is_dir():
        raise UsageError(f"{target} is a folder; give a file name for the executed notebook.")
    umask = os.umask(0)
    os.umask(umask)
    try:
        write_atomic(target, data, mode=0o666 & ~umask)
    except OSError as exc:
        raise ColabLinkError(f"Could not write {target}: {exc.strerror}.") from None
