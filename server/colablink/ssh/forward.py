"""Local port forwarding over an open session (``ssh -L`` without a second connection)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

import paramiko

from colablink.errors import ColabLinkError, UsageError
from colablink.ssh.session import ConnectionLost, Session, close_channel, send_all, shutdown_write

_CHUNK = 256 * 1024


class LocalForward:
    """Listen on ``bind:local_port``; relay each client to the runtime's ``remote_host:remote_port``
    (its loopback by default; a server listening on one address only is reached there).

    ``local_port=0`` picks a free port; ``start()`` returns the one in use. ``session`` may be a
    callable giving the session to use now: each new client then rides the current one, so the
    forward comes back once a dropped link was re-dialed.
    """

    def __init__(
        self,
        session: Session | Callable[[], Session],
        remote_port: int,
        local_port: int = 0,
        bind: str = "127.0.0.1",
        remote_host: str = "127.0.0.1",
    ) -> None:
        self._session = session
        self.remote_host = remote_host
        self.remote_port = remote_port
        self.local_port = local_port
        self.bind = bind
        self._listener: socket.socket | None = None
        self._accepter: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, paramiko.Channel]] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def start(self) -> int:
        listener = socket.socket(socket.AF_INET6 if ":" in self.bind else socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.bind, self.local_port))
        except OSError as exc:
            listener.close()
            raise UsageError(
                f"Cannot listen on {self.bind}:{self.local_port} ({exc.strerror}); "
                "pick another local port."
            ) from None
        listener.listen(64)
        self._listener = listener
        self.local_port = listener.getsockname()[1]
        self._accepter = threading.Thread(
            target=self._accept_loop, name=f"colablink-forward-{self.local_port}", daemon=True
        )
        self._accepter.start()
        return self.local_port

    @property
    def session(self) -> Session:
        return self._session if isinstance(self._session, Session) else self._session()

    @property
    def active_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, peer = self._listener.accept()
            except OSError:
                return  # listener closed by stop()
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # Opening the channel takes a round trip: do it off the accept loop, so clients
            # arriving together are not served one round trip after another.
            self._spawn(self._serve, client, peer[:2])

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _serve(self, client: socket.socket, peer: tuple[str, int]) -> None:
        try:
            chan = self.session.transport.open_channel(
                "direct-tcpip", (self.remote_host, self.remote_port), peer, timeout=15.0
            )
        except (paramiko.SSHException, OSError, EOFError, ColabLinkError):
            # Nothing listens on the remote port (or the connection is gone): refuse this one.
            client.close()
            return
        pair = (client, chan)
        with self._lock:
            stopping = self._stopping.is_set()
            if not stopping:
                self._pairs.add(pair)
        if stopping:
            client.close()
            close_channel(chan)
            return
        self._spawn(self._client_to_remote, pair)
        self._remote_to_client(pair)

    def _client_to_remote(self, pair: tuple[socket.socket, paramiko.Channel]) -> None:
        client, chan = pair
        try:
            while data := client.recv(_CHUNK):
                send_all(chan, data)
            shutdown_write(chan)
        except (OSError, EOFError, ConnectionLost, paramiko.SSHException):
            self._close(pair)

    def _remote_to_client(self, pair: tuple[socket.socket, paramiko.Channel]) -> None:
        client, chan = pair
        try:
            while data := chan.recv(_CHUNK):
                client.sendall(data)
            client.shutdown(socket.SHUT_WR)
        except (OSError, EOFError, paramiko.SSHException):
            pass
        self._close(pair)

    def _close(self, pair: tuple[socket.socket, paramiko.Channel]) -> None:
        client, chan = pair
        with self._lock:
            self._pairs.discard(pair)
        close_channel(chan)
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_RDWR)
        client.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, close every relayed connection, and wait for the relay threads."""
        self._stopping.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        if self._accepter is not None:
            self._accepter.join(timeout)
        with self._lock:
            pairs = list(self._pairs)
            threads = list(self._threads)
        for pair in pairs:
            self._close(pair)
        for thread in threads:
            thread.join(timeout)
