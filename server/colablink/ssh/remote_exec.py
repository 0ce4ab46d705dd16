"""Run a command on the runtime: build its command line, stream its output, cancel it for real.

The remote side is a POSIX shell (sshd runs the command with the user's login shell), so every
argument is quoted exactly once, here.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shlex
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO

import paramiko

from colablink.errors import UsageError
from colablink.ssh.session import (
    ConnectionLost,
    Session,
    close_channel,
    send_all,
    send_signal,
    shutdown_write,
    signal_exit_code,
)

# Every streamed command carries this variable, so a cancel can find all of its processes.
RUN_ID_VAR = "COLABLINK_RUN_ID"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_READ_SIZE = 1 << 20
# How long an interrupted command gets to exit on SIGINT before its process group is killed.
INTERRUPT_GRACE_S = 1.0
_POLL_S = 0.05
# After the kill, stop waiting for an exit status that a wedged channel may never deliver.
_GIVE_UP_S = 3.0


def command_line(
    argv: Sequence[str] | str,
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The remote shell command line for ``argv``, run in ``cwd`` with ``env`` added.

    A string, or a single argument containing whitespace, is a shell command line (pipes and
    globs work); anything else is an argv whose words reach the program exactly as given.
    """
    if isinstance(argv, str):
        argv = [argv]
    if not argv or (len(argv) == 1 and not argv[0].strip()):
        raise UsageError("Give a command to run.")
    parts: list[str] = []
    if env:
        bad = [name for name in env if not _ENV_NAME.match(name)]
        if bad:
            raise UsageError(f"{bad[0]!r} is not a valid environment variable name.")
        parts.append("export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + ";")
    if cwd is not None:
        parts.append(f"cd -- {shlex.quote(cwd)} || exit 1;")
    # exec: the program itself becomes the session leader, so its signals and exit code are its own.
    parts.append(argv[0] if is_shell_line(argv) else "exec " + shlex.join(argv))
    return " ".join(parts)


def is_shell_line(command: Sequence[str] | str) -> bool:
    """Whether ``command`` is a shell command line rather than an argv (see ``command_line``)."""
    if isinstance(command, str):
        return True
    return len(command) == 1 and any(c.isspace() for c in command[0])


def _kill_command(run_id: str) -> str:
    # Every process carrying the run id dies first, so that a parent still alive reaps it (an
    # orphan left to a container's init can linger as a zombie); a moment later their whole
    # process groups, which also holds the shell that started them.
    needle = shlex.quote(f"{RUN_ID_VAR}={run_id}")
    return "\n".join(
        [
            f"pids=$(grep -lzx {needle} /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3)",
            '[ -n "$pids" ] || exit 0',
            "groups=$(ps -o pgid= -p \"$(echo $pids | tr ' ' ,)\" | sort -u)",
            "kill -KILL $pids 2>/dev/null",
            "sleep 0.1",
            'for g in $groups; do kill -KILL -- "-$g" 2>/dev/null; done',
            "true",
        ]
    )


def _pump_stdin(chan: paramiko.Channel, stdin: bytes | IO[bytes]) -> None:
    try:
        if isinstance(stdin, bytes | bytearray | memoryview):
            send_all(chan, stdin)
        else:
            read = getattr(stdin, "read1", stdin.read)
            while chunk := read(_READ_SIZE):
                send_all(chan, chunk)
        shutdown_write(chan)
    except (OSError, EOFError, ConnectionLost, paramiko.SSHException):
        # The command ended (or the channel closed) before reading all its input: like a pipe.
        pass


def _drain(
    chan: paramiko.Channel,
    on_stdout: Callable[[bytes], object],
    on_stderr: Callable[[bytes], object],
) -> None:
    while chan.recv_ready():
        on_stdout(chan.recv(_READ_SIZE))
    while chan.recv_stderr_ready():
        on_stderr(chan.recv_stderr(_READ_SIZE))


class _Wakeup:
    """Set by paramiko when output arrives on either stream; cleared only by the reader.

    paramiko clears a buffer's event when that buffer runs empty, which would swallow a wakeup
    for the other stream if both shared a plain Event (and ``Channel.fileno`` costs a pipe).
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        """Ignored: see the class docstring."""

    def arm(self) -> None:
        self._event.clear()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


def _has_status(chan: paramiko.Channel) -> bool:
    # paramiko also sets the status event when the connection dies, leaving exit_status at -1.
    return chan.exit_status_ready() and chan.exit_status != -1


def stream(
    session: Session,
    command: str,
    *,
    on_stdout: Callable[[bytes], object],
    on_stderr: Callable[[bytes], object],
    stdin: bytes | IO[bytes] | None = None,
    cancel: threading.Event | None = None,
) -> int:
    """Run ``command``, passing output chunks to the callbacks as they arrive; return its exit code.

    A signal death gives 128+n. Setting ``cancel`` interrupts the command (SSH ``signal`` INT),
    and kills its processes if it has not exited after ``INTERRUPT_GRACE_S``; a cancelled
    command never reports success.
    """
    run_id = secrets.token_hex(8)
    chan = session.open_exec(f"export {RUN_ID_VAR}={run_id}; {command}")
    try:
        if stdin is None:
            shutdown_write(chan)
        else:
            threading.Thread(
                target=_pump_stdin, args=(chan, stdin), name="colablink-stdin", daemon=True
            ).start()
        interrupted_at: float | None = None
        killed = False
        wakeup = _Wakeup()
        chan.in_buffer.set_event(wakeup)  # type: ignore[arg-type]  # duck-typed Event
        chan.in_stderr_buffer.set_event(wakeup)  # type: ignore[arg-type]
        while True:
            wakeup.arm()
            _drain(chan, on_stdout, on_stderr)
            if chan.eof_received and _has_status(chan):
                break
            if chan.closed or not session.transport.is_active():
                _drain(chan, on_stdout, on_stderr)
                if _has_status(chan):
                    break
                raise ConnectionLost("The connection dropped before the remote command finished.")
            if cancel is not None and cancel.is_set():
                now = time.monotonic()
                if interrupted_at is None:
                    interrupted_at = now
                    send_signal(chan, "INT")
                elif not killed and now - interrupted_at >= INTERRUPT_GRACE_S:
                    killed = True
                    session.run(_kill_command(run_id))
                elif now - interrupted_at >= INTERRUPT_GRACE_S + _GIVE_UP_S:
                    return signal_exit_code("INT")
            if chan.eof_received:
                # Output is done; only the exit status is awaited.
                chan.status_event.wait(_POLL_S)
            else:
                wakeup.wait(_POLL_S)
        code = chan.recv_exit_status()
        # A cancelled command that still exits 0 (its shell outlived the kill) was interrupted.
        return signal_exit_code("INT") if interrupted_at is not None and code == 0 else code
    finally:
        if not _has_status(chan):
            # Leaving early (a callback raised, KeyboardInterrupt): closing the channel alone
            # would leave a non-PTY command running, so end its process group first.
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                send_signal(chan, "KILL")
        close_channel(chan)
