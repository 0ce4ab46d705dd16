"""One authenticated SSH connection to a runtime, tuned for ColabLink's traffic.

Everything that talks SSH goes through ``Session``. It fixes what cost us the most with paramiko:
Nagle on the socket, a slow default cipher, a client-started rekey that deadlocks long transfers,
``exit-signal`` being ignored, a first channel stalled 45 ms by a delayed ACK, and messages that
could leave after a channel's CLOSE (sshd then drops the whole connection).
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import paramiko
from paramiko.common import (
    MSG_CHANNEL_CLOSE,
    MSG_CHANNEL_REQUEST,
    cMSG_CHANNEL_REQUEST,
    cMSG_GLOBAL_REQUEST,
    cMSG_IGNORE,
)
from paramiko.message import Message
from paramiko.packet import Packetizer

from colablink.errors import AuthFailed, Cancelled, HostKeyMismatch, Unreachable
from colablink.ssh.login import login
from colablink.ssh.transport import DIRECT, DirectTcp, Link, Stream, Transport, dial

PREFERRED_CIPHER = "aes128-gcm@openssh.com"
# Receive window for bulk downloads. paramiko's 2 MiB default caps a 40 ms RTT link at ~45 MiB/s;
# 8 MiB doubled that, while 32 MiB was 3× slower even on loopback (paramiko copies its buffer
# on partial reads), so readers of such a channel must drain it whole.
BULK_WINDOW = 8 << 20

# Signal numbers as the (Linux) runtime numbers them, not as the local OS does: the exit code
# must mean the same thing on a Mac client.
_LINUX_SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8,
    "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
    "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22,
    "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29,
    "PWR": 30, "SYS": 31,
}  # fmt: skip

# A host-key type as pinned ("ssh-rsa") can be negotiated under other algorithm names.
_KEY_ALGORITHMS = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}


class ConnectionLost(Unreachable):
    """An established connection dropped while work was in flight."""


@dataclass(frozen=True)
class SshTarget:
    """Where and as whom to connect, and which host keys to trust (``"type base64"``)."""

    host: str
    port: int
    username: str
    host_keys: tuple[str, ...]
    key_path: Path | None = None
    password: str | None = field(default=None, repr=False)
    transport: Transport = DIRECT

    @property
    def where(self) -> str:
        if isinstance(self.transport, DirectTcp):
            return f"{self.host}:{self.port}"
        if isinstance(self.transport, Stream):
            return f"{self.host} (through {self.transport.via})"
        return f"{self.host} (through {Path(self.transport.argv[0]).name})"


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


def signal_exit_code(name: str) -> int:
    """Map an SSH signal name ("KILL") to the shell's 128+n exit code."""
    return 128 + _LINUX_SIGNALS.get(name.upper().removeprefix("SIG"), 127)


class _Packetizer(Packetizer):
    # A rekey started by paramiko during a long transfer deadlocks at 2^29 bytes (paramiko #822).
    # Leave rekeying to sshd, whose own limit (RekeyLimit, or ~2^32 blocks for AES) comes first.
    REKEY_BYTES = 2**40
    REKEY_PACKETS = 2**40


def _handle_channel_request(chan: paramiko.Channel, m: Message) -> None:
    """Record ``exit-signal`` as 128+n, which paramiko drops; hand everything else to paramiko."""
    start = m.packet.tell()
    if m.get_text() == "exit-signal":
        m.get_boolean()  # want_reply, always false for exit-signal
        chan.exit_status = signal_exit_code(m.get_text())
        chan.status_event.set()
        return
    m.packet.seek(start)
    paramiko.Channel._handle_request(chan, m)  # type: ignore[attr-defined]


# paramiko builds a channel message under the channel's lock but transmits it after releasing
# it, so a message of ours can leave after the CLOSE paramiko sends in reply to the runtime's.
# sshd has freed the channel by then and drops the whole connection ("packet referred to
# nonexistent channel"). Everything we send on a channel, and paramiko's reply to a CLOSE, holds
# this per-channel lock from check to transmission.
_send_locks: weakref.WeakKeyDictionary[paramiko.Channel, threading.Lock] = (
    weakref.WeakKeyDictionary()
)
_send_locks_guard = threading.Lock()


def _send_lock(chan: paramiko.Channel) -> threading.Lock:
    with _send_locks_guard:
        lock = _send_locks.get(chan)
        if lock is None:
            lock = _send_locks[chan] = threading.Lock()
        return lock


def _handle_channel_close(chan: paramiko.Channel, m: Message) -> None:
    with _send_lock(chan):
        paramiko.Channel._handle_close(chan, m)  # type: ignore[attr-defined]


class _Transport(paramiko.Transport):
    def _parse_debug(self, m: Message) -> None:
        super()._parse_debug(m)  # type: ignore[misc]
        # sshd sends debug messages right after login and holds its next packet (Nagle) until
        # they are acknowledged, while our kernel delays that ACK ~40 ms: the first channel
        # then costs 45 ms. A tiny IGNORE packet carries the ACK out at once.
        nudge = Message()
        nudge.add_byte(cMSG_IGNORE)
        nudge.add_string(b"")
        self._send_message(nudge)  # type: ignore[attr-defined]

    _channel_handler_table = {  # noqa: RUF012 - paramiko's own class-level table, extended
        **paramiko.Transport._channel_handler_table,  # type: ignore[attr-defined]
        MSG_CHANNEL_REQUEST: _handle_channel_request,
        MSG_CHANNEL_CLOSE: _handle_channel_close,
    }


def _pinned(host_keys: Sequence[str]) -> set[tuple[str, str]]:
    """``"type base64 [comment]"`` lines as (type, base64); malformed lines pin nothing."""
    return {(f[0], f[1]) for f in (line.split() for line in host_keys) if len(f) >= 2}


def _allowed_key_types(pinned: set[tuple[str, str]]) -> list[str]:
    supported = set(paramiko.Transport._preferred_keys)  # type: ignore[attr-defined]
    wanted: list[str] = []
    for key_type, _ in sorted(pinned):
        for algo in _KEY_ALGORITHMS.get(key_type, (key_type,)):
            if algo in supported and algo not in wanted:
                wanted.append(algo)
    return wanted


def _load_key(path: Path) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(path)
    except FileNotFoundError:
        raise AuthFailed(f"The key {path} is missing; re-run `colablink init`.") from None
    except (paramiko.SSHException, ValueError, OSError) as exc:
        raise AuthFailed(f"Cannot read the key {path} ({exc}); re-run `colablink init`.") from None


class Session:
    """A live, authenticated SSH connection. Thread-safe: channels may be opened concurrently."""

    def __init__(
        self, transport: paramiko.Transport, target: SshTarget, link: Link | None = None
    ) -> None:
        self._transport = transport
        self.target = target
        self._link = link
        self._ping_lock = threading.Lock()

    @classmethod
    def connect(
        cls, target: SshTarget, timeout: float = 15.0, *, learn_host_key: bool = False
    ) -> Session:
        """Connect, check the host key against the pinned ones, then authenticate.

        The host key is checked before any credential leaves this process. ``learn_host_key``
        (with no key pinned) accepts whatever key the server shows, for a channel that is
        authenticated some other way (Colab's: TLS to Google); ``host_key`` then says which.
        """
        if not target.host_keys and not learn_host_key:
            raise HostKeyMismatch(
                "No host key is pinned for this runtime; re-run `colablink init`."
            )
        if target.key_path is None and target.password is None:
            raise AuthFailed("No key or password to log in with; re-run `colablink init`.")
        key = _load_key(target.key_path) if target.key_path is not None else None
        link = dial(target.transport, target.host, target.port, timeout)
        transport = _Transport(link.sock, packetizer_class=_Packetizer)
        try:
            cls._handshake(transport, target, link, timeout, learn_host_key)
            cls._authenticate(transport, target, key, timeout)
        except BaseException:
            transport.close()
            link.close()
            raise
        return cls(transport, target, link)

    @property
    def host_key(self) -> str:
        """The server's host key as ``"type base64"``."""
        server_key = self._transport.get_remote_server_key()
        return f"{server_key.get_name()} {server_key.get_base64()}"

    @staticmethod
    def _handshake(
        transport: paramiko.Transport, target: SshTarget, link: Link, timeout: float, learn: bool
    ) -> None:
        options = transport.get_security_options()
        options.ciphers = (
            PREFERRED_CIPHER,
            *(c for c in options.ciphers if c != PREFERRED_CIPHER),
        )
        pinned = _pinned(target.host_keys)
        # Only an empty pin list learns: malformed pinned lines still refuse every key.
        learning = learn and not target.host_keys
        if not learning:
            key_types = _allowed_key_types(pinned)
            if not key_types:
                raise HostKeyMismatch(
                    "None of the pinned host key types is supported; re-run `colablink init`."
                )
            options.key_types = key_types
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        where = target.where
        try:
            transport.start_client(timeout=timeout)
        except (paramiko.SSHException, EOFError, OSError):
            done = False
        else:
            # start_client returns quietly when its timeout passes mid-handshake.
            done = transport.is_active() and transport.initial_kex_done
        if not done:
            said = link.said()
            if said:
                raise Unreachable(f"{where} did not complete an SSH handshake: {said}") from None
            raise Unreachable(
                f"{where} did not complete an SSH handshake; check the host and port."
            ) from None
        server_key = transport.get_remote_server_key()
        if not learning and (server_key.get_name(), server_key.get_base64()) not in pinned:
            raise HostKeyMismatch(
                f"The host key of {where} is not the pinned one, so nothing was sent; if the "
                "runtime was restarted, re-run `colablink init` with its new connection info."
            )

    @staticmethod
    def _authenticate(
        transport: paramiko.Transport,
        target: SshTarget,
        key: paramiko.PKey | None,
        timeout: float,
    ) -> None:
        transport.auth_timeout = timeout
        who = f"{target.username}@{target.where}"
        try:
            login(transport, target.username, key=key, password=target.password)
        except paramiko.AuthenticationException:
            if key is None:
                raise AuthFailed(
                    f"The runtime refused the password for {who}; copy the connection info again."
                ) from None
            raise AuthFailed(
                f"The runtime refused the key for {who}; re-run `colablink init`."
            ) from None
        except (paramiko.SSHException, EOFError, OSError):
            raise Unreachable(f"The connection to {who} dropped while logging in.") from None
        if not transport.is_authenticated():
            raise AuthFailed(f"The runtime refused to log in {who}; re-run `colablink init`.")

    @property
    def transport(self) -> paramiko.Transport:
        return self._transport

    def is_active(self) -> bool:
        return self._transport.is_active() and self._transport.is_authenticated()

    def ping(self, timeout: float = 5.0) -> float:
        """One round trip to sshd (a global request it answers without running anything), in s.

        Raises ``ConnectionLost`` when no answer comes within ``timeout``: a tunnel that went
        silent without resetting the connection is only noticed this way.
        """
        with self._ping_lock:
            answered = threading.Event()
            # paramiko signals any global reply through this one event; it has no timeout itself.
            self._transport.completion_event = answered
            m = Message()
            m.add_byte(cMSG_GLOBAL_REQUEST)
            m.add_string("keepalive@openssh.com")
            m.add_boolean(True)
            start = time.perf_counter()
            try:
                self._transport._send_user_message(m)  # type: ignore[attr-defined]
            except (OSError, EOFError, paramiko.SSHException):
                raise ConnectionLost("The connection to the runtime is gone; reconnect.") from None
            deadline = start + timeout
            while not answered.wait(min(0.05, max(0.0, deadline - time.perf_counter()))):
                if not self._transport.is_active():
                    raise ConnectionLost("The connection to the runtime is gone; reconnect.")
                if time.perf_counter() >= deadline:
                    self.close()
                    raise ConnectionLost(
                        f"The runtime did not answer within {timeout:g} s; reconnect."
                    )
            return time.perf_counter() - start

    def open_channel(
        self, timeout: float = 15.0, *, window_size: int | None = None
    ) -> paramiko.Channel:
        """A fresh ``session`` channel (for exec, pty, subsystems)."""
        try:
            return self._transport.open_session(timeout=timeout, window_size=window_size)
        except (paramiko.SSHException, EOFError, OSError):
            raise ConnectionLost("The connection to the runtime is gone; reconnect.") from None

    def open_exec(self, command: str, *, window_size: int | None = None) -> paramiko.Channel:
        """Start ``command`` (a remote shell command line) on a new channel."""
        chan = self.open_channel(window_size=window_size)
        try:
            chan.exec_command(command)
        except (paramiko.SSHException, EOFError, OSError):
            close_channel(chan)
            raise ConnectionLost("The runtime refused to start a command; reconnect.") from None
        return chan

    def run(
        self,
        argv_or_cmdline: Sequence[str] | str,
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bytes | IO[bytes] | None = None,
    ) -> RunResult:
        """Run a short command to completion and collect its output."""
        from colablink.ssh import remote_exec

        out: list[bytes] = []
        err: list[bytes] = []
        code = remote_exec.stream(
            self,
            remote_exec.command_line(argv_or_cmdline, cwd=cwd, env=env),
            on_stdout=out.append,
            on_stderr=err.append,
            stdin=stdin,
        )
        return RunResult(code, b"".join(out), b"".join(err))

    def close(self) -> None:
        self._transport.close()
        if self._link is not None:
            self._link.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _wait_for_window(chan: paramiko.Channel, cancel: threading.Event | None) -> None:
    """Wait, without our send lock, until the runtime lets us send (or the channel ends)."""
    with chan.out_buffer_cv:
        while not (chan.closed or chan.eof_sent or chan.out_window_size > 0):
            if cancel is not None and cancel.is_set():
                raise Cancelled("The transfer was cancelled.")
            # Short waits when cancellable: nothing notifies this condition of a cancel.
            chan.out_buffer_cv.wait(1.0 if cancel is None else 0.05)


def send_all(
    chan: paramiko.Channel,
    data: bytes | bytearray | memoryview,
    cancel: threading.Event | None = None,
) -> None:
    """Send everything; ``Channel.sendall`` re-slices the buffer per packet (quadratic).

    Setting ``cancel`` stops the sending with ``Cancelled``, also while the window is shut.
    """
    view = memoryview(data).cast("B")
    lock = _send_lock(chan)
    while view:
        _wait_for_window(chan, cancel)
        with lock:
            if chan.closed or chan.eof_sent:
                raise ConnectionLost("The runtime closed the channel while data was being sent.")
            if not chan.send_ready():
                continue
            sent = chan.send(view)  # type: ignore[arg-type]
        if sent == 0:
            raise ConnectionLost("The runtime closed the channel while data was being sent.")
        view = view[sent:]


def shutdown_write(chan: paramiko.Channel) -> None:
    """Send EOF, unless the channel is already closed (see ``_send_locks``)."""
    if_open(chan, chan.shutdown_write)


def if_open(chan: paramiko.Channel, send: Callable[[], object]) -> bool:
    """Run ``send`` (which sends on ``chan``) only while the channel is open; say if it ran.

    For anything else sent on a channel (``resize_pty``, a request): see ``_send_locks``.
    """
    with _send_lock(chan):
        if chan.closed:
            return False
        send()
        return True


def close_channel(chan: paramiko.Channel) -> None:
    """Close a channel; on a connection that already died, paramiko's close raises instead."""
    with _send_lock(chan), contextlib.suppress(OSError, EOFError, paramiko.SSHException):
        chan.close()


def send_signal(chan: paramiko.Channel, name: str) -> None:
    """Send an SSH ``signal`` request (RFC 4254 §6.9), which paramiko has no API for."""
    m = Message()
    m.add_byte(cMSG_CHANNEL_REQUEST)
    m.add_int(chan.remote_chanid)
    m.add_string("signal")
    m.add_boolean(False)
    m.add_string(name)
    if_open(chan, lambda: chan.transport._send_user_message(m))  # type: ignore[union-attr]
