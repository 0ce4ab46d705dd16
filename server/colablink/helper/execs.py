"""Remote commands started by ``colablink/exec``: output as notifications, cancel for real.

Each run is tracked until its worker thread ends (not just until the request is answered), so
that closing down can interrupt every remote process and wait for it to be gone.
"""

from __future__ import annotations

import asyncio
import codecs
import posixpath
import threading
from typing import Literal

from colablink.helper.blocking import run_blocking
from colablink.helper.live import LiveProfile
from colablink.helper.notifier import Notifier
from colablink.helper.params import require
from colablink.helper.protocol import ExecOutputParams, ExecParams, Notification
from colablink.ssh import remote_exec


class Run:
    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.done = threading.Event()


class ExecRunner:
    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier
        self._runs: set[Run] = set()
        self._lock = threading.Lock()

    async def run(self, live: LiveProfile, params: ExecParams) -> int:
        argv = params.get("argv")
        line = params.get("commandLine")
        require(
            (argv is None) != (line is None),
            "give exactly one of params.argv and params.commandLine.",
        )
        require(argv is None or len(argv) > 0, "params.argv must not be empty.")
        command: list[str] | str = list(argv) if argv is not None else line or ""
        cwd = params.get("cwd")
        exec_id = params["execId"]
        out = _Forward(self._notifier, exec_id, "stdout")
        err = _Forward(self._notifier, exec_id, "stderr")
        if cwd is not None:
            # A shell line that changes directory first; the profile's environment still applies.
            where = posixpath.join(live.profile.remote_root, cwd)
            command = remote_exec.command_line(command, cwd=where)
        run = Run()
        with self._lock:
            self._runs.add(run)

        def work() -> int:
            try:
                code = live.exec(command, on_stdout=out, on_stderr=err, cancel=run.cancel)
                out(b"", final=True)
                err(b"", final=True)
                return code
            finally:
                with self._lock:
                    self._runs.discard(run)
                run.done.set()

        try:
            return await run_blocking(work, name=f"colablink-exec-{exec_id}")
        except asyncio.CancelledError:
            run.cancel.set()
            raise

    def cancel_all(self) -> list[threading.Event]:
        """Interrupt every running command; return events that are set once each has ended."""
        with self._lock:
            runs = list(self._runs)
        for run in runs:
            run.cancel.set()
        return [run.done for run in runs]


class _Forward:
    """Decodes one stream incrementally (a UTF-8 character may span chunks) and notifies."""

    def __init__(
        self, notifier: Notifier, exec_id: str, stream: Literal["stdout", "stderr"]
    ) -> None:
        self._notifier = notifier
        self._exec_id = exec_id
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def __call__(self, chunk: bytes, final: bool = False) -> None:
        text = self._decoder.decode(chunk, final=final)
        if text:
            params: ExecOutputParams = {
                "execId": self._exec_id,
                "stream": self._stream,
                "data": text,
            }
            self._notifier.send(Notification.EXEC_OUTPUT, params)
