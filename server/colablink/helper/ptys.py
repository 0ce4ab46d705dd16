"""Interactive shells for the editor's terminals: one SSH PTY channel each.

A reader thread per shell turns channel output into ``colablink/pty/output`` notifications and,
when the shell ends, sends ``colablink/pty/exit`` with its status.
"""

from __future__ import annotations

import codecs
import itertools
import logging
import posixpath
import queue
import threading
from collections.abc import Callable

import paramiko

from colablink import pty
from colablink.errors import UsageError
from colablink.helper.live import LiveProfile
from colablink.helper.notifier import Notifier
from colablink.protocol import Notification, PtyExitParams, PtyOutputParams

log = logging.getLogger(__name__)
_READ_SIZE = 1 << 16


class Shell:
    """One terminal; keystrokes and resizes go through one queue so they keep their order."""

    def __init__(self, pty_id: str, channel: paramiko.Channel) -> None:
        self.pty_id = pty_id
        self.channel = channel
        self._inbox: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        threading.Thread(target=self._feed, name=f"colablink-pty-in-{pty_id}", daemon=True).start()

    def submit(self, action: Callable[[], None]) -> None:
        self._inbox.put(action)

    def close(self) -> None:
        self._inbox.put(None)
        self.channel.close()

    def _feed(self) -> None:
        while (action := self._inbox.get()) is not None:
            try:
                action()
            except (OSError, EOFError, paramiko.SSHException) as exc:
                log.info("Terminal %s stopped taking input: %s", self.pty_id, exc)
                return


class PtyRegistry:
    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier
        self._shells: dict[str, Shell] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def open(self, live: LiveProfile, cols: int, rows: int, cwd: str | None) -> str:
        """Open a shell (blocking) and start relaying its output; return its id."""
        root = live.profile.remote_root
        directory = root if cwd is None else posixpath.join(root, cwd)
        channel = pty.open_shell(live.connection.session, directory, cols, rows)
        shell = Shell(f"{live.name}-{next(self._ids)}", channel)
        with self._lock:
            self._shells[shell.pty_id] = shell
        threading.Thread(
            target=self._relay, args=(shell,), name=f"colablink-pty-{shell.pty_id}", daemon=True
        ).start()
        return shell.pty_id

    def _get(self, pty_id: str) -> Shell:
        with self._lock:
            shell = self._shells.get(pty_id)
        if shell is None:
            raise UsageError(f"There is no open terminal {pty_id!r}.")
        return shell

    def write(self, pty_id: str, data: str) -> None:
        shell = self._get(pty_id)
        payload = data.encode()
        shell.submit(lambda: shell.channel.sendall(payload))

    def resize(self, pty_id: str, cols: int, rows: int) -> None:
        shell = self._get(pty_id)
        shell.submit(lambda: pty.resize(shell.channel, cols, rows))

    def close(self, pty_id: str) -> None:
        self._get(pty_id).close()

    def close_all(self) -> None:
        with self._lock:
            shells = list(self._shells.values())
        for shell in shells:
            shell.close()

    def _relay(self, shell: Shell) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        channel = shell.channel
        try:
            # A blocking recv costs nothing while the terminal is idle; b"" means EOF or closed.
            while chunk := channel.recv(_READ_SIZE):
                self._output(shell.pty_id, decoder.decode(chunk))
            self._output(shell.pty_id, decoder.decode(b"", final=True))
            # -1 when the channel closed without a status (we closed it, or the link dropped).
            code = channel.recv_exit_status()
        except OSError as exc:
            log.info("Terminal %s ended: %s", shell.pty_id, exc)
            code = -1
        finally:
            with self._lock:
                self._shells.pop(shell.pty_id, None)
            shell.close()
        exit_params: PtyExitParams = {"ptyId": shell.pty_id, "exitCode": code}
        self._notifier.send(Notification.PTY_EXIT, exit_params)

    def _output(self, pty_id: str, text: str) -> None:
        if text:
            params: PtyOutputParams = {"ptyId": pty_id, "data": text}
            self._notifier.send(Notification.PTY_OUTPUT, params)
