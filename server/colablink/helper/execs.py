"""Remote commands started by ``colablink/exec``: output as notifications, cancel for real.

Each run (and each Runs-view attach) is tracked until its worker thread ends (not just until the
request is answered), so that closing down can leave every run to the runtime's supervisor, which
keeps it going for the next window, and wait until no thread follows it any more.
"""

from __future__ import annotations

import asyncio
import codecs
import posixpath
import threading
from collections.abc import Callable
from typing import Literal

from colablink.helper.blocking import run_blocking
from colablink.helper.live import LiveProfile
from colablink.helper.notifier import Notifier
from colablink.helper.params import require
from colablink.helper.protocol import ExecNoticeParams, ExecOutputParams, ExecParams, Notification
from colablink.ssh import remote_exec


class Run:
    def __init__(self) -> None:
        self.cancel = threading.Event()  # interrupt it: Ctrl+C, cancel, the terminal closed
        self.detach = threading.Event()  # stop following it; it goes on (a window reload)
        self.done = threading.Event()


class ExecRunner:
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
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
        out = Forward(self.notifier, exec_id, "stdout")
        err = Forward(self.notifier, exec_id, "stderr")
        if cwd is not None:
            # A shell line that changes directory first; the profile's environment still applies.
            where = posixpath.join(live.profile.remote_root, cwd)
            command = remote_exec.command_line(command, cwd=where)

        def work(run: Run) -> int:
            code = live.exec(
                command,
                on_stdout=out,
                on_stderr=err,
                cancel=run.cancel,
                detach=run.detach,
                on_notice=notice_sender(self.notifier, exec_id),
            )
            out(b"", final=True)
            err(b"", final=True)
            return code

        return await self.tracked(work, f"colablink-exec-{exec_id}")

    async def tracked(self, work: Callable[[Run], int], name: str) -> int:
        """``work`` in a thread, known to ``leave_all``; cancelling the request interrupts it."""
        run = Run()
        with self._lock:
            self._runs.add(run)

        def target() -> int:
            try:
                return work(run)
            finally:
                with self._lock:
                    self._runs.discard(run)
                run.done.set()

        try:
            return await run_blocking(target, name=name)
        except asyncio.CancelledError:
            run.cancel.set()
            raise

    def leave_all(self) -> list[threading.Event]:
        """Stop following every run, which goes on under the runtime's supervisor; return events
        that are set once no thread follows it."""
        with self._lock:
            runs = list(self._runs)
        for run in runs:
            run.detach.set()
        return [run.done for run in runs]


def notice_sender(notifier: Notifier, exec_id: str) -> Callable[[str], None]:
    """Tells the extension about the link under a run ("link lost; reconnecting…")."""

    def send(message: str) -> None:
        params: ExecNoticeParams = {"execId": exec_id, "message": message}
        notifier.send(Notification.EXEC_NOTICE, params)

    return send


class Forward:
    """Decodes one stream incrementally (a UTF-8 character may span chunks) and notifies."""

    def __init__(
        self, notifier: Notifier, exec_id: str, stream: Literal["stdout", "stderr"]
    ) -> None:
        self.notifier = notifier
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
            self.notifier.send(Notification.EXEC_OUTPUT, params)
