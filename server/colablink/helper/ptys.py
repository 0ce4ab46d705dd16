"""Interactive shells for the editor's terminals: one PTY each, on the helper's connection or
held by the profile's daemon (see ``terminals.py``).

A reader thread per shell turns terminal output into ``colablink/pty/output`` notifications and,
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

from colablink.errors import ColabLinkError, UsageError
from colablink.helper.live import LiveProfile
from colablink.helper.notifier import Notifier
from colablink.helper.protocol import Notification, PtyExitParams, PtyOutputParams
from colablink.helper.terminals import Terminal

log = logging.getLogger(__name__)


class Shell:
    """One terminal; keystrokes and resizes go through one queue so they keep their order."""

    def __init__(self, pty_id: str, profile: str, terminal: Terminal) -> None:
        self.pty_id = pty_id
        self.profile = profile
        self.terminal = terminal
        # Set when Disconnect ended it: whatever status the hung-up shell gives is not its own.
        self.disconnected = False
        self._inbox: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        threading.Thread(target=self._feed, name=f"colablink-pty-in-{pty_id}", daemon=True).start()

    def submit(self, action: Callable[[], None]) -> None:
        self._inbox.put(action)

    def close(self) -> None:
        self._inbox.put(None)
        self.terminal.close()

    def _feed(self) -> None:
        while (action := self._inbox.get()) is not None:
            try:
                action()
            except (OSError, EOFError, paramiko.SSHException, ColabLinkError) as exc:
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
        terminal = live.open_terminal(cols, rows, directory)
        shell = Shell(f"{live.name}-{next(self._ids)}", live.name, terminal)
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
        shell.submit(lambda: shell.terminal.write(payload))

    def resize(self, pty_id: str, cols: int, rows: int) -> None:
        shell = self._get(pty_id)
        shell.submit(lambda: shell.terminal.resize(cols, rows))

    def close(self, pty_id: str) -> None:
        self._get(pty_id).close()

    def close_profile(self, profile: str) -> None:
        """End every shell of ``profile`` (on Disconnect, even when its daemon holds them)."""
        with self._lock:
            shells = [s for s in self._shells.values() if s.profile == profile]
        for shell in shells:
            shell.disconnected = True
            shell.close()

    def close_all(self) -> None:
        with self._lock:
            shells = list(self._shells.values())
        for shell in shells:
            shell.close()

    def _relay(self, shell: Shell) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        terminal = shell.terminal
        try:
            while chunk := terminal.read():
                self._output(shell.pty_id, decoder.decode(chunk))
            self._output(shell.pty_id, decoder.decode(b"", final=True))
            # -1 when the shell ended without a status (Disconnect, or the link dropped).
            code = -1 if shell.disconnected else terminal.exit_status()
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
