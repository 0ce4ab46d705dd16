"""``# %%`` cells in one kernel per file on the runtime's Jupyter server.

A file's cells run, in the order they were asked for, in the kernel of the server's session for
that file's path, so a cell sees what earlier ones defined and the kernel's cwd is the file's
folder in the synced tree. Each cell is compiled under the file's remote name with its real line
numbers (the synced file is there, so tracebacks show its lines). What the kernel prints, shows
and raises streams as ``execOutput``; cancelling the request interrupts the kernel. The kernels
belong to the server: closing the helper leaves them, and a new window finds a file's session
again. *Restart Cell Kernel* restarts one file's kernel.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import threading
from collections.abc import Callable
from typing import Literal

from colablink import pathsafety
from colablink.errors import ColabLinkError
from colablink.helper.execs import ExecRunner, Forward, Run, notice_sender
from colablink.helper.jupyter import JupyterForwards
from colablink.helper.live import LiveProfile
from colablink.helper.params import InvalidParams, require
from colablink.helper.protocol import CellRestartParams, CellRunParams
from colablink.notebooks.kernel_client import JupyterClient, JupyterError, Kernel, Output

# How often a running cell checks whether it was cancelled or left.
_WATCH_S = 0.1
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# The first line of a cell's program, as IPython shows it in a traceback frame.
_WRAPPER = "exec(compile("


def cell_program(remote_file: str, line: int, code: str) -> str:
    """``code`` compiled as lines ``line``… of ``remote_file``, run in the user's namespace."""
    source = "\n" * (line - 1) + code
    return f"exec(compile({source!r}, {remote_file!r}, 'exec'), globals())"


def without_wrapper(traceback: list[str]) -> list[str]:
    """IPython's traceback without the frame of ``cell_program``'s own line."""
    return [entry for entry in traceback if _WRAPPER not in _ANSI.sub("", entry)]


class CellKernels:
    def __init__(self, forwards: JupyterForwards, execs: ExecRunner) -> None:
        self.forwards = forwards
        self.execs = execs
        self._lock = threading.Lock()
        self._file_locks: dict[tuple[str, str], threading.Lock] = {}

    def _file_lock(self, key: tuple[str, str]) -> threading.Lock:
        with self._lock:
            return self._file_locks.setdefault(key, threading.Lock())

    async def run(self, live: LiveProfile, params: CellRunParams) -> int:
        path = _checked_path(params["path"])
        require(params["line"] >= 1, "params.line must be a line number (1 or more).")
        exec_id = params["execId"]
        notifier = self.execs.notifier
        out = Forward(notifier, exec_id, "stdout")
        err = Forward(notifier, exec_id, "stderr")
        remote_file = posixpath.join(live.profile.remote_root, path)
        program = cell_program(remote_file, params["line"], params["code"])
        notice = notice_sender(notifier, exec_id)

        def show(output: Output) -> None:
            stream, text = _shown(output)
            (err if stream == "stderr" else out)(text.encode())

        def work(run: Run) -> int:
            with self._file_lock((live.name, path)):
                client, kernel = self._kernel(live, path, notice)
                status = _execute(client, kernel, program, show, run)
            out(b"", final=True)
            err(b"", final=True)
            return 0 if status == "ok" else 1

        return await self.execs.tracked(work, f"colablink-cell-{exec_id}")

    def restart(self, live: LiveProfile, params: CellRestartParams) -> None:
        """Blocking: the file's kernel restarted (made, when it had none: fresh either way)."""
        path = _checked_path(params["path"])
        with self._file_lock((live.name, path)):
            client, kernel = self._kernel(live, path, None)
            client.restart(kernel.id)

    def _kernel(
        self, live: LiveProfile, path: str, notice: Callable[[str], None] | None
    ) -> tuple[JupyterClient, Kernel]:
        """The kernel of the server's session for ``path``, made when there is none (after a
        server restart too). A forward or server that stopped answering is asked for once more."""
        forwarded = self.forwards.current(live, notice)
        client = forwarded.client()
        try:
            return client, client.start_kernel(path)
        except JupyterError:
            self.forwards.forget(forwarded)
        client = self.forwards.current(live, notice).client()
        return client, client.start_kernel(path)


def _execute(
    client: JupyterClient,
    kernel: Kernel,
    program: str,
    show: Callable[[Output], None],
    run: Run,
) -> str:
    """Runs ``program`` on the kernel; Ctrl+C (cancel) interrupts it, leaving (detach) stops
    following it. The execution's status: ok, error, aborted."""
    finished = threading.Event()
    channel = client.channel(kernel.id)

    def watch() -> None:
        while not finished.wait(_WATCH_S):
            if run.cancel.is_set():
                # A link that went takes the reply with it: nothing left to interrupt.
                with contextlib.suppress(ColabLinkError):
                    client.interrupt(kernel.id)
                return
            if run.detach.is_set():
                channel.close()
                return

    watcher = threading.Thread(target=watch, name=f"colablink-cell-watch-{kernel.id}", daemon=True)
    watcher.start()
    try:
        with channel:
            return channel.execute(program, on_output=show).status
    finally:
        finished.set()


def _shown(output: Output) -> tuple[Literal["stdout", "stderr"], str]:
    """What a terminal shows of one output, and on which stream."""
    if output.kind == "stream":
        return ("stderr" if output.name == "stderr" else "stdout"), output.text
    if output.kind == "error":
        return "stderr", "\n".join(without_wrapper(output.traceback)) + "\n"
    text = output.data.get("text/plain")
    if isinstance(text, str):
        return "stdout", text + "\n"
    kinds = ", ".join(sorted(output.data)) or "nothing"
    return "stdout", f"[{kinds}: shown in a notebook, not in a terminal]\n"


def _checked_path(path: str) -> str:
    try:
        return pathsafety.check_remote_relpath(path)
    except pathsafety.UnsafePath:
        raise InvalidParams("params.path must be a workspace-relative path.") from None
