"""A loopback stand-in for a Colab runtime's ``/colab/ssh`` WebSocket endpoint.

Like the real endpoint it checks the path, the proxy token and the ``X-Colab-Ssh-Pubkey`` header,
authorizes that key for the runtime's user, and bridges binary frames to the runtime's sshd (here
the real sshd our runtime code started). It takes one connection at a time (429 for a second) and
answers any handshake status a test asks for (``fail_with``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

PATH = "/colab/ssh"
SESSION = "t"
TOKEN = "tok-proxy-123"
FAR_FUTURE = "2099-01-01T00:00:00Z"
PUBKEY_HEADER = "X-Colab-Ssh-Pubkey"
_KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")


class ColabEndpoint:
    """Serve on 127.0.0.1 in a thread; ``url`` goes in the client's sessions.json."""

    def __init__(self, sshd_port: int, authorized_keys: Path, token: str) -> None:
        self.sshd_port = sshd_port
        self.authorized_keys = authorized_keys
        self.token = token
        self.fail_with: int | None = None
        self.connections = 0  # bridged connections ever accepted
        self.refused: list[int] = []  # statuses answered instead
        self._active = 0
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="colab-endpoint")

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self._server = await serve(
            self._bridge, "127.0.0.1", 0, process_request=self._check, compression=None
        )

    def _refuse(self, status: int, why: str) -> Response:
        self.refused.append(status)
        body = why.encode()
        headers = Headers([("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return Response(status, HTTPStatus(status).phrase, headers, body)

    def _check(self, _: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path != PATH:
            return self._refuse(404, "not found")
        if self.fail_with is not None:
            return self._refuse(self.fail_with, "on demand")
        if parse_qs(url.query).get("colab-runtime-proxy-token") != [self.token]:
            return self._refuse(401, "invalid token")
        key = request.headers.get(PUBKEY_HEADER, "").strip()
        fields = key.split()
        if len(fields) < 2:
            return self._refuse(400, "missing pubkey")
        if fields[0] not in _KEY_TYPES:
            return self._refuse(400, "unsupported key type")
        if self._active:
            return self._refuse(429, "already connected")
        self._active += 1
        self._authorize(f"{fields[0]} {fields[1]}")
        return None

    def _authorize(self, line: str) -> None:
        known = self.authorized_keys.read_text().splitlines()
        if line not in known:
            with self.authorized_keys.open("a") as f:
                f.write(line + "\n")

    async def _bridge(self, ws: ServerConnection) -> None:
        self.connections += 1
        try:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.sshd_port)
            except OSError:
                await ws.close(1011, "sshd unreachable")
                return

            async def down() -> None:
                while data := await reader.read(65536):
                    await ws.send(data)
                await ws.close()

            async def up() -> None:
                with contextlib.suppress(ConnectionClosed):
                    async for message in ws:
                        writer.write(message if isinstance(message, bytes) else message.encode())
                        await writer.drain()
                writer.close()

            with contextlib.suppress(ConnectionClosed, OSError):
                await asyncio.gather(down(), up())
        finally:
            self._active -= 1

    def start(self) -> ColabEndpoint:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        async def shut() -> None:
            assert self._server is not None
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@contextlib.contextmanager
def endpoint(sshd_port: int, authorized_keys: Path, token: str) -> Iterator[ColabEndpoint]:
    server = ColabEndpoint(sshd_port, authorized_keys, token).start()
    try:
        yield server
    finally:
        server.stop()


def write_client_home(home: Path, url: str, token: str = TOKEN) -> None:
    config = home / ".config" / "colab-cli"
    config.mkdir(parents=True, exist_ok=True)
    credential = {
        "token": "x", "refresh_token": "y", "token_uri": "https://oauth2.googleapis.com/token",
        "client_id": "c", "client_secret": "s", "scopes": ["openid"], "expiry": FAR_FUTURE,
    }  # fmt: skip
    session = {
        "name": SESSION, "token": token, "url": url, "endpoint": "any",
        "token_expires_at": FAR_FUTURE,
    }  # fmt: skip
    (config / "token.json").write_text(json.dumps(credential))
    (config / "sessions.json").write_text(json.dumps({SESSION: session}))
    (config / "settings.json").write_text(json.dumps({"enable_update_check": False}))
