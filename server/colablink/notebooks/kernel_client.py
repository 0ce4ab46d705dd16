"""A small client of a Jupyter server's REST and websocket API, through the local forward.

``JupyterClient`` lists, starts (one session per path: the kernel's cwd is that path's folder
under the server's root), restarts, interrupts and shuts down kernels; ``KernelChannel`` executes
code on one kernel over its websocket and streams what it prints, displays and raises. Everything
the server sends is parsed as untrusted. No proxy from the environment is ever used: the server is
on this machine's loopback, at the end of the forward.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import posixpath
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from colablink.errors import ColabLinkError, RemoteError

# A message bigger than this (an image output, a huge print) ends the channel, not the process.
MAX_MESSAGE = 64 << 20
PROTOCOL_VERSION = "5.3"


class JupyterError(ColabLinkError):
    """The Jupyter server refused or failed a request; ``status`` is its HTTP status (0: none)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Kernel:
    id: str
    name: str
    execution_state: str
    session_id: str | None = None
    path: str | None = None


@dataclass
class Output:
    """One thing a cell produced: ``stream`` (name, text), ``execute_result``/``display_data``
    (data: mime type → value), or ``error`` (ename, evalue, traceback)."""

    kind: str
    name: str = ""
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    ename: str = ""
    evalue: str = ""
    traceback: list[str] = field(default_factory=list)


@dataclass
class ExecuteResult:
    status: str  # ok, error, aborted
    execution_count: int | None
    outputs: list[Output]

    @property
    def error(self) -> Output | None:
        return next((out for out in self.outputs if out.kind == "error"), None)

    @property
    def stdout(self) -> str:
        return "".join(o.text for o in self.outputs if o.kind == "stream" and o.name == "stdout")


class JupyterClient:
    """The server at ``http://127.0.0.1:port`` with ``token``."""

    def __init__(
        self, port: int, token: str, *, host: str = "127.0.0.1", timeout: float = 30.0
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: object = None, *, auth: bool = True) -> Any:
        """One REST call; its JSON answer (None for an empty one)."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"token {self.token}"
        payload = None if body is None else json.dumps(body).encode()
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read(MAX_MESSAGE + 1)
        except OSError as exc:
            raise JupyterError(f"The Jupyter server did not answer ({exc}).") from None
        finally:
            connection.close()
        if response.status >= 400:
            raise JupyterError(
                f"The Jupyter server answered {response.status} to {method} {path}.",
                response.status,
            )
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise RemoteError("The Jupyter server answered something that is not JSON.") from None

    # -- kernels -----------------------------------------------------------------------------

    def kernels(self) -> list[Kernel]:
        found = self.request("GET", "/api/kernels")
        return [_kernel(k) for k in found] if isinstance(found, list) else []

    def sessions(self) -> list[Kernel]:
        found = self.request("GET", "/api/sessions")
        return [_session(s) for s in found] if isinstance(found, list) else []

    def start_kernel(self, path: str, *, name: str = "python3") -> Kernel:
        """The kernel of the session for ``path`` (relative to the server's root), made when
        there is none: its cwd is the folder of ``path``."""
        body = {
            "path": path,
            "name": posixpath.basename(path),
            "type": "notebook" if path.endswith(".ipynb") else "file",
            "kernel": {"name": name},
        }
        return _session(self.request("POST", "/api/sessions", body))

    def restart(self, kernel_id: str) -> None:
        self.request("POST", f"/api/kernels/{quote(kernel_id)}/restart")

    def interrupt(self, kernel_id: str) -> None:
        self.request("POST", f"/api/kernels/{quote(kernel_id)}/interrupt")

    def shutdown(self, kernel: Kernel) -> None:
        """End the kernel (and the session that made it)."""
        if kernel.session_id is not None:
            self.request("DELETE", f"/api/sessions/{quote(kernel.session_id)}")
        else:
            self.request("DELETE", f"/api/kernels/{quote(kernel.id)}")

    def channel(self, kernel_id: str) -> KernelChannel:
        return KernelChannel(self, kernel_id)


def _kernel(data: Any) -> Kernel:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise RemoteError("The Jupyter server described a kernel in a way we cannot read.")
    return Kernel(data["id"], str(data.get("name", "")), str(data.get("execution_state", "")))


def _session(data: Any) -> Kernel:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise RemoteError("The Jupyter server described a session in a way we cannot read.")
    kernel = _kernel(data.get("kernel"))
    path = data.get("path")
    return Kernel(
        kernel.id,
        kernel.name,
        kernel.execution_state,
        session_id=data["id"],
        path=path if isinstance(path, str) else None,
    )


class KernelChannel:
    """One kernel's websocket: ``execute`` one piece of code at a time; ``close`` when done."""

    def __init__(self, client: JupyterClient, kernel_id: str) -> None:
        self.kernel_id = kernel_id
        self.session = uuid.uuid4().hex
        url = (
            f"ws://{client.host}:{client.port}/api/kernels/{quote(kernel_id)}/channels"
            f"?session_id={self.session}"
        )
        self._stack = contextlib.ExitStack()
        try:
            # Entered as a context manager, the way every websockets version accepts.
            self._ws: ClientConnection = self._stack.enter_context(
                connect(
                    url,
                    additional_headers={"Authorization": f"token {client.token}"},
                    proxy=None,
                    open_timeout=client.timeout,
                    max_size=MAX_MESSAGE,
                    compression=None,
                )
            )
        except (OSError, WebSocketException) as exc:
            raise JupyterError(f"Could not reach the kernel's channels ({exc}).") from None

    def close(self) -> None:
        with contextlib.suppress(OSError, WebSocketException):
            self._stack.close()

    def __enter__(self) -> KernelChannel:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def execute(
        self,
        code: str,
        *,
        on_output: Callable[[Output], None] | None = None,
        timeout: float | None = None,
    ) -> ExecuteResult:
        """Run ``code``; every output goes to ``on_output`` as it arrives. Returns once the
        kernel replied and went idle; ``timeout`` bounds the wait for each message."""
        msg_id = uuid.uuid4().hex
        self._send(
            "shell",
            msg_id,
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
        )
        outputs: list[Output] = []
        reply: dict[str, Any] | None = None
        idle = False
        while reply is None or not idle:
            message = self._receive(timeout)
            parent = message.get("parent_header")
            if not isinstance(parent, dict) or parent.get("msg_id") != msg_id:
                continue
            kind, content = message.get("msg_type"), message.get("content")
            if not isinstance(content, dict):
                continue
            if message.get("channel") == "shell" and kind == "execute_reply":
                reply = content
            elif kind == "status":
                idle = idle or content.get("execution_state") == "idle"
            elif kind in ("stream", "execute_result", "display_data", "error"):
                output = _output(str(kind), content)
                outputs.append(output)
                if on_output is not None:
                    on_output(output)
        count = reply.get("execution_count")
        return ExecuteResult(
            str(reply.get("status", "error")), count if isinstance(count, int) else None, outputs
        )

    def _send(self, channel: str, msg_id: str, kind: str, content: dict[str, Any]) -> None:
        message = {
            "header": {
                "msg_id": msg_id,
                "msg_type": kind,
                "username": "colablink",
                "session": self.session,
                "date": datetime.now(timezone.utc).isoformat(),
                "version": PROTOCOL_VERSION,
            },
            "parent_header": {},
            "metadata": {},
            "content": content,
            "channel": channel,
            "buffers": [],
        }
        try:
            self._ws.send(json.dumps(message))
        except (OSError, WebSocketException) as exc:
            raise JupyterError(f"The kernel's channel closed ({exc}).") from None

    def _receive(self, timeout: float | None) -> dict[str, Any]:
        try:
            raw = self._ws.recv(timeout)
        except TimeoutError:
            raise JupyterError("The kernel sent nothing in time.") from None
        except (OSError, WebSocketException) as exc:
            raise JupyterError(f"The kernel's channel closed ({exc}).") from None
        if isinstance(raw, bytes):
            return {}  # the binary framing of messages with buffers: nothing we asked for
        try:
            message = json.loads(raw)
        except ValueError:
            return {}
        return message if isinstance(message, dict) else {}


def _output(kind: str, content: dict[str, Any]) -> Output:
    data = content.get("data")
    traceback = content.get("traceback")
    return Output(
        kind=kind,
        name=str(content.get("name", "")),
        text=str(content.get("text", "")),
        data=data if isinstance(data, dict) else {},
        ename=str(content.get("ename", "")),
        evalue=str(content.get("evalue", "")),
        traceback=[str(line) for line in traceback] if isinstance(traceback, list) else [],
    )
