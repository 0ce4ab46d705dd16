"""The daemon: holds a profile's ``Connection`` and serves it on a private unix socket.

Every request is one socket connection. A request is a JSON control frame; the answer is either
one control frame (``ok`` or ``error``), progress or event frames then the answer, or, for
``exec`` and ``attach`` (a supervisor's run), output frames (and ``notice`` frames) then ``exit``.
``sync_events`` answers at once and then streams the sync engine's events; ``pty`` answers at
once, then carries the terminal's output and input as raw frames and ends with ``exit``. Services
such as the sync engine run in the same process and share the connection; the daemon only starts
and stops them, and relays requests to the engine.
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, cast

from colablink.connection import Connection
from colablink.daemon.proxy_relay import serve_proxy
from colablink.daemon.sync_feed import Event, SyncFeed
from colablink.daemon.wire import (
    CONTROL,
    STDERR,
    STDIN,
    STDOUT,
    ConnectionClosed,
    decode_control,
    encode,
    encode_control,
    read_frame,
)
from colablink.errors import ColabLinkError, SyncHalted, UsageError
from colablink.ssh import pty
from colablink.ssh.session import ConnectionLost, close_channel, send_all

if TYPE_CHECKING:
    import paramiko

    from colablink.sync.engine import SyncEngine


# How long ``serve_forever`` may take to wind down once stopped (SIGTERM must end `watch` in 2 s).
STOP_BUDGET_S = 1.0


class Service(Protocol):
    """Something the daemon hosts beside the socket (the sync engine, for one)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class DaemonAlreadyRunning(ColabLinkError):
    pass


class QueueReader:
    """A file-like ``read`` over chunks that arrive from the client; ``b""`` after EOF."""

    def __init__(self) -> None:
        self._chunks: queue.Queue[bytes | None] = queue.Queue()
        self._pending = b""
        self._eof = False

    def put(self, chunk: bytes | None) -> None:
        self._chunks.put(chunk)

    def read(self, size: int = -1) -> bytes:
        if not self._pending and not self._eof:
            chunk = self._chunks.get()
            if chunk is None:
                self._eof = True
            else:
                self._pending = chunk
        if size < 0 or size >= len(self._pending):
            data, self._pending = self._pending, b""
        else:
            data, self._pending = self._pending[:size], self._pending[size:]
        return data


class Reply:
    """Thread-safe writes to one client; after the client is gone, writes are dropped."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self.gone = threading.Event()

    def send(self, frame: bytes) -> None:
        if self.gone.is_set():
            return
        with self._lock:
            try:
                self._sock.sendall(frame)
            except OSError:
                self.gone.set()

    def control(self, message: dict[str, Any]) -> None:
        self.send(encode_control(message))


class DaemonServer:
    def __init__(
        self,
        connection: Connection,
        socket_path: Path,
        services: Sequence[Service] = (),
        sync: SyncEngine | None = None,
    ) -> None:
        """``sync`` is the hosted sync engine (also one of ``services``), if this daemon syncs."""
        self.connection = connection
        self.socket_path = socket_path
        self.services = list(services)
        self._sync = None if sync is None else SyncFeed(sync)
        self._stop = threading.Event()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._listener: socket.socket | None = None
        # The cancels of the transfers under way: stopping ends them before the session closes.
        self._transfers: set[threading.Event] = set()
        self._transfers_lock = threading.Lock()
        self._transfers_cond = threading.Condition(self._transfers_lock)
        self._ops: dict[str, Callable[[dict[str, Any], socket.socket, Reply], None]] = {
            "exec": self._exec,
            "runs": self._runs,
            "start": self._start,
            "attach": self._attach,
            "kill": self._kill,
            "status": self._status,
            "upload": self._upload,
            "download": self._download,
            "forward": self._forward,
            "unforward": self._unforward,
            "forwards": self._list_forwards,
            "flush": self._flush,
            "sync_now": self._sync_now,
            "sync_events": self._sync_events,
            "pty": self._pty,
            "proxy": self._proxy,
            "ping": self._ping,
            "shutdown": self._shutdown,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    def bind(self) -> None:
        """Take the socket path, refusing if a live daemon already holds it."""
        path = str(self.socket_path)
        if self.socket_path.exists():
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except OSError:
                self.socket_path.unlink()
            else:
                raise DaemonAlreadyRunning(
                    f"An agent for profile {self.connection.profile.name!r} is already running; "
                    "stop it with `colablink disconnect`."
                )
            finally:
                probe.close()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        previous = os.umask(0o177)
        try:
            listener.bind(path)
        finally:
            os.umask(previous)
        self.socket_path.chmod(0o600)
        listener.listen(64)
        self._listener = listener

    def release(self) -> None:
        """Give the socket up without serving (set-up failed after ``bind``)."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        self.connection.close()

    def serve_forever(self) -> None:
        """Accept requests until ``stop()``; then stop transfers, services, forwards, the session.

        Winding down is bounded (``STOP_BUDGET_S``): a service or a session stuck on a dead link
        is left to die with the process rather than hold it up.
        """
        if self._listener is None:
            self.bind()
        listener = self._listener
        assert listener is not None
        for service in self.services:
            service.start()
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([listener.fileno(), self._wake_read], [], [])
                if self._wake_read in ready:
                    os.read(self._wake_read, 512)
                if listener.fileno() not in ready:
                    continue
                client, _ = listener.accept()
                threading.Thread(target=self._handle, args=(client,), daemon=True).start()
        finally:
            listener.close()
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()
            self._wind_down(time.monotonic() + STOP_BUDGET_S)

    def _wind_down(self, deadline: float) -> None:
        with self._transfers_lock:
            for cancel in self._transfers:
                cancel.set()
            # Half the budget for cancelled transfers to remove their temps on both sides.
            half = time.monotonic() + (deadline - time.monotonic()) / 2
            while self._transfers and (left := half - time.monotonic()) > 0:
                self._transfers_cond.wait(left)

        def stop_the_rest() -> None:
            for service in reversed(self.services):
                service.stop()
            self.connection.close()

        stopper = threading.Thread(target=stop_the_rest, name="colablink-stop", daemon=True)
        stopper.start()
        stopper.join(max(0.0, deadline - time.monotonic()))
        if stopper.is_alive():
            print("Stopping took too long; the rest ends with the agent.", file=sys.stderr)

    @property
    def wakeup_fd(self) -> int:
        """For ``signal.set_wakeup_fd``: a signal then wakes the accept loop, whichever thread
        the kernel delivered it to (a handler alone runs only once the main thread wakes)."""
        return self._wake_write

    def stop(self) -> None:
        """Stop serving (safe from a signal handler and from any thread)."""
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")

    # -- requests ----------------------------------------------------------------------------

    def _handle(self, client: socket.socket) -> None:
        reply = Reply(client)
        try:
            kind, payload = read_frame(client)
            request = decode_control(payload) if kind == CONTROL else {}
            handler = self._ops.get(str(request.get("op")))
            if handler is None:
                reply.control(
                    error_message(ColabLinkError("the agent does not know that request."))
                )
                return
            handler(request, client, reply)
        except ConnectionClosed:
            pass
        except ColabLinkError as exc:
            reply.control(error_message(exc))
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            reply.control(error_message(ColabLinkError(f"the agent failed: {exc}.")))
        finally:
            # Shutting down (not just closing) wakes a thread still reading from this client.
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()

    def _exec(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        command = request.get("command")
        is_argv = isinstance(command, list) and all(isinstance(arg, str) for arg in command)
        if not (isinstance(command, str) or is_argv):
            raise ColabLinkError("the command to run must be a string or a list of strings.")
        cancel, detach = threading.Event(), threading.Event()
        stdin = QueueReader() if request.get("stdin") else None
        threading.Thread(
            target=self._exec_input, args=(client, stdin, cancel, detach), daemon=True
        ).start()
        code = self.connection.exec(
            cast("list[str] | str", command),
            on_stdout=lambda data: reply.send(encode(STDOUT, data)),
            on_stderr=lambda data: reply.send(encode(STDERR, data)),
            # A QueueReader offers the one method the stdin pump calls: read(size).
            stdin=cast("IO[bytes] | None", stdin),
            cancel=cancel,
            detach=detach,
        )
        reply.control({"exit": code})

    def _runs(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        reply.control({"ok": {"runs": [run.to_dict() for run in self.connection.runs()]}})

    def _start(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        """A detached run: its id at once, its stdin closed."""
        command = request.get("command")
        is_argv = isinstance(command, list) and all(isinstance(arg, str) for arg in command)
        if not (isinstance(command, str) or is_argv):
            raise ColabLinkError("the command to run must be a string or a list of strings.")
        run_id = self.connection.start_detached(cast("list[str] | str", command))
        reply.control({"ok": {"id": run_id}})

    def _attach(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        """Follow a run from a byte of its output, as ``exec`` streams one; ``exit`` is null when
        ``until_now`` stopped at the output so far. The client's ``interrupt`` interrupts the run;
        its leaving only stops following."""
        from colablink.ssh.runs import check_run_id

        run_id = check_run_id(str(request.get("id")))
        cancel, detach = threading.Event(), threading.Event()
        stdin = QueueReader() if request.get("stdin") else None
        threading.Thread(
            target=self._exec_input, args=(client, stdin, cancel, detach), daemon=True
        ).start()
        start = max(0, int(request.get("from", 0)))
        reached = [start]
        code = self.connection.attach(
            run_id,
            on_stdout=lambda data: reply.send(encode(STDOUT, data)),
            on_stderr=lambda data: reply.send(encode(STDERR, data)),
            from_pos=start,
            stdin=cast("IO[bytes] | None", stdin),
            cancel=cancel,
            detach=detach,
            until_now=bool(request.get("until_now")),
            on_notice=lambda message: reply.control({"notice": message}),
            reached=lambda pos: reached.__setitem__(0, pos),
        )
        reply.control({"exit": code, "pos": reached[0]})

    def _kill(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        from colablink.ssh.runs import check_run_id

        running = self.connection.kill(
            check_run_id(str(request.get("id"))), str(request.get("signal", "TERM"))
        )
        reply.control({"ok": {"running": running}})

    @staticmethod
    def _exec_input(
        client: socket.socket,
        stdin: QueueReader | None,
        cancel: threading.Event,
        detach: threading.Event,
    ) -> None:
        """Relay the client's input and interrupts; a vanished client leaves the run going."""
        try:
            while True:
                kind, payload = read_frame(client)
                if kind == STDIN and stdin is not None:
                    stdin.put(payload)
                elif kind == CONTROL:
                    op = decode_control(payload).get("op")
                    if op == "eof" and stdin is not None:
                        stdin.put(None)
                    elif op == "interrupt":
                        cancel.set()
        except (ConnectionClosed, OSError, ValueError):
            # Either the command finished and its socket closed, or the client died mid-command
            # (killed, or its laptop slept): a drop is not an interrupt, the run goes on under the
            # supervisor, and `colablink attach` finds it.
            if stdin is not None:
                stdin.put(None)
            detach.set()

    def _status(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        reply.control({"ok": self.connection.status(agent_running=True).to_dict()})

    def _upload(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        with self._transfer(client) as cancel:
            remote = self.connection.upload(
                Path(str(request["local"])),
                request.get("remote"),
                progress=lambda done, total: reply.control({"progress": [done, total]}),
                cancel=cancel,
            )
        reply.control({"ok": {"path": remote}})

    def _download(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        local = request.get("local")
        with self._transfer(client) as cancel:
            written = self.connection.download(
                str(request["remote"]),
                None if local is None else str(local),  # a str keeps a trailing "/"
                progress=lambda done, total: reply.control({"progress": [done, total]}),
                cancel=cancel,
            )
        reply.control({"ok": {"path": str(written)}})

    @contextlib.contextmanager
    def _transfer(self, client: socket.socket) -> Iterator[threading.Event]:
        """A cancel for one transfer: set by the client's ``cancel``, its leaving, or ``stop``.

        A transfer outliving its requester would land later over whatever came in between.
        """
        cancel = threading.Event()
        threading.Thread(target=self._cancel_when_asked, args=(client, cancel), daemon=True).start()
        with self._transfers_lock:
            self._transfers.add(cancel)
        try:
            yield cancel
        finally:
            with self._transfers_lock:
                self._transfers.discard(cancel)
                self._transfers_cond.notify_all()

    @staticmethod
    def _cancel_when_asked(client: socket.socket, cancel: threading.Event) -> None:
        with contextlib.suppress(ConnectionClosed, OSError, ValueError):
            while not cancel.is_set():
                kind, payload = read_frame(client)
                if kind == CONTROL and decode_control(payload).get("op") == "cancel":
                    break
        cancel.set()

    def _forward(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        port = self.connection.forward(
            int(request["remote_port"]),
            int(request.get("local_port", 0)),
            str(request.get("remote_host", "127.0.0.1")),
        )
        reply.control({"ok": {"local_port": port}})
        if request.get("hold"):
            # The forward lives as long as the client's connection: wait for it to close.
            with contextlib.suppress(ConnectionClosed, OSError):
                while not self._stop.is_set():
                    read_frame(client)
            self.connection.unforward(port)

    def _unforward(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        reply.control({"ok": {"stopped": self.connection.unforward(int(request["local_port"]))}})

    def _list_forwards(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        forwards = self.connection.forwards()
        reply.control({"ok": {"forwards": {str(k): v for k, v in forwards.items()}}})

    # -- sync --------------------------------------------------------------------------------

    def _feed(self) -> SyncFeed:
        if self._sync is None:
            raise UsageError(
                f"The agent for profile {self.connection.profile.name!r} is not syncing "
                "(it runs with --no-sync)."
            )
        return self._sync

    def _flush(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        feed = self._feed()
        paths = request.get("paths")
        if paths is not None and not (
            isinstance(paths, list) and all(isinstance(p, str) for p in paths)
        ):
            raise ColabLinkError("the paths to flush must be a list of strings.")
        if not feed.engine.flush(paths, timeout=float(request.get("timeout", 120.0))):
            raise SyncHalted(f"Pending changes did not reach the runtime ({feed.engine.state}).")
        reply.control({"ok": {}})

    def _sync_now(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        """One full pass both ways; the engine's events during it go to the requester."""
        feed = self._feed()
        with feed.subscribed(lambda event: reply.control({"event": event})):
            feed.engine.sync_once()
        reply.control({"ok": {}})

    def _sync_events(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        """The current state, then every event until the requester disconnects.

        Events are queued and sent from this thread, so a requester that stops reading holds up
        only its own stream, never the engine that publishes them.
        """
        feed = self._feed()
        pending: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        threading.Thread(target=self._until_closed, args=(client, pending), daemon=True).start()
        with feed.subscribed(pending.put):
            reply.control({"ok": feed.current_state()})
            while (event := pending.get()) is not None and not reply.gone.is_set():
                reply.control({"event": event})

    @staticmethod
    def _until_closed(client: socket.socket, pending: queue.SimpleQueue[Event | None]) -> None:
        """Wait for the requester to close its end, then end its event stream."""
        with contextlib.suppress(ConnectionClosed, OSError, ValueError):
            while True:
                read_frame(client)
        pending.put(None)

    # -- terminals ---------------------------------------------------------------------------

    def _pty(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        """A login shell on a PTY for as long as the requester stays connected."""
        cols, rows = int(request["cols"]), int(request["rows"])
        cwd = request.get("cwd")
        channel = self.connection.open_shell(cols, rows, cwd if isinstance(cwd, str) else None)
        reply.control({"ok": {}})
        threading.Thread(
            target=self._pty_output, args=(channel, client, reply), daemon=True
        ).start()
        try:
            while True:
                kind, payload = read_frame(client)
                if kind == STDIN:
                    with contextlib.suppress(ConnectionLost):
                        send_all(channel, payload)
                elif kind == CONTROL:
                    message = decode_control(payload)
                    if message.get("op") == "resize":
                        pty.resize(channel, int(message["cols"]), int(message["rows"]))
        except (ConnectionClosed, OSError, ValueError):
            pass
        finally:
            close_channel(channel)

    @staticmethod
    def _pty_output(channel: paramiko.Channel, client: socket.socket, reply: Reply) -> None:
        """Relay the shell's output, then its status; ending the connection tells the client."""
        try:
            while chunk := channel.recv(1 << 16):
                reply.send(encode(STDOUT, chunk))
            # -1 when the channel closed without a status (the requester left, or the link dropped).
            code = channel.recv_exit_status()
        except OSError:
            code = -1
        reply.control({"exit": code})
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_RDWR)

    def _proxy(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        """After the reply, the socket carries raw bytes to and from the runtime's sshd."""
        serve_proxy(self.connection, client, reply.control)

    def _ping(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        reply.control({"ok": {"pid": os.getpid(), "profile": self.connection.profile.name}})

    def _shutdown(self, request: dict[str, Any], client: socket.socket, reply: Reply) -> None:
        self.stop()
        reply.control({"ok": {"pid": os.getpid()}})


def error_message(exc: ColabLinkError) -> dict[str, Any]:
    return {"error": {"kind": type(exc).__name__, "message": exc.message}}
