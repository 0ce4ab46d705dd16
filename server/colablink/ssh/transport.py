"""How a session's bytes reach the runtime's sshd: direct TCP, a ProxyCommand, or a holder.

A ProxyCommand is any program that speaks SSH on its stdin/stdout (Colab's
``colab ssh --proxy-mode``, ``cloudflared access ssh``, ``ssh -W`` through a jump host). It gets one
end of a socket pair as stdin and stdout, so paramiko reads and writes a real socket either way.
Like OpenSSH, we end it with SIGHUP (bridges such as ``colab ssh`` do not stop at stdin EOF alone).
A ``Stream`` is a socket another layer opens already speaking SSH to sshd (an editor window's
relayed ``proxy`` stream, so this session runs inside the window's connection): no process.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from colablink.errors import Unreachable

# What a failed ProxyCommand said last is the only clue to why: keep that much of its stderr.
_STDERR_TAIL = 4096
_END_GRACE = 2.0


@dataclass(frozen=True)
class DirectTcp:
    """A TCP connection to the target's host and port."""


@dataclass(frozen=True)
class ProxyCommand:
    """A program (argv, no shell) that carries the SSH stream on its stdin and stdout."""

    argv: tuple[str, ...]


@dataclass(frozen=True)
class Stream:
    """``opener(timeout)`` gives a socket carrying the SSH stream, or raises ``Unreachable``."""

    opener: Callable[[float], socket.socket]
    via: str  # what the failure sentences call it: "the editor window's connection"


Transport = DirectTcp | ProxyCommand | Stream
DIRECT = DirectTcp()


class Link:
    """A dialled byte stream to sshd: the socket paramiko uses, and whatever must end with it."""

    def __init__(self, sock: socket.socket, process: subprocess.Popen[bytes] | None = None) -> None:
        self.sock = sock
        self._process = process
        self._stderr = bytearray()
        if process is not None and process.stderr is not None:
            threading.Thread(
                target=self._drain, args=(process.stderr,), daemon=True, name="proxy-stderr"
            ).start()

    def _drain(self, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            self._stderr += line
            del self._stderr[:-_STDERR_TAIL]
        stream.close()

    def said(self) -> str:
        """The ProxyCommand's last line on stderr ("" for TCP or a silent command)."""
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(0.5)  # let a failing bridge finish its sentence
        lines = bytes(self._stderr).decode("utf-8", "replace").strip().splitlines()
        return lines[-1].strip() if lines else ""

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        process = self._process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGHUP)
        try:
            process.wait(_END_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def dial(transport: Transport, host: str, port: int, timeout: float) -> Link:
    if isinstance(transport, ProxyCommand):
        return _spawn(transport)
    if isinstance(transport, Stream):
        return Link(transport.opener(timeout))
    return Link(_tcp(host, port, timeout))


def _tcp(host: str, port: int, timeout: float) -> socket.socket:
    where = f"{host}:{port}"
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror:
        raise Unreachable(f"Cannot resolve host {host!r}; check the connection info.") from None
    except TimeoutError:
        raise Unreachable(
            f"No answer from {where} within {timeout:g} s; is the runtime up?"
        ) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise Unreachable(f"Cannot connect to {where} ({reason}); is the runtime up?") from None
    # Without TCP_NODELAY each channel open waits ~40 ms on Nagle vs. delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _spawn(command: ProxyCommand) -> Link:
    if not command.argv:
        raise Unreachable("The profile's ProxyCommand is empty; re-run `colablink init`.")
    ours, theirs = socket.socketpair()
    try:
        process = subprocess.Popen(
            command.argv,
            stdin=theirs.fileno(),
            stdout=theirs.fileno(),
            stderr=subprocess.PIPE,
            close_fds=True,
            # Its own session: a Ctrl+C meant for us must not kill the bridge mid-cleanup.
            start_new_session=True,
        )
    except OSError as exc:
        ours.close()
        reason = exc.strerror or type(exc).__name__
        raise Unreachable(
            f"Cannot start the ProxyCommand {command.argv[0]!r} ({reason}); "
            "check that it is installed."
        ) from None
    finally:
        theirs.close()
    return Link(ours, process)
