"""The runtime's Jupyter server: found running or started, its state, its stop, its forward.

The server is a supervised run (it outlives the link) of ``colablink_runtime/jupyter_env.py
serve``: bound to the runtime's 127.0.0.1, a fresh token, its root at the remote source root, and
its state (port, token, run id) in ``<remote_root>/.colablink/jupyter/server.json``, readable by the
runtime user only. The runtime programs travel with each call (a few KiB on the command line) and
are kept in that folder; the first ``ensure`` on a runtime without ``jupyter_server`` installs it
into a private venv there, its progress passed to ``on_progress`` line by line.

Every function takes a ``RuntimeLink``: a ``Connection``, the daemon, or the helper's profile.
"""

from __future__ import annotations

import base64
import json
import posixpath
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from colablink.errors import ColabLinkError, RemoteError, UsageError
from colablink.notebooks.runtime_link import RuntimeLink

FOLDER = ".colablink/jupyter"
PROGRAMS = ("jupyter_env.py", "kernel_launcher.py", "notebook_runner.py")
# How long a fresh server may take to answer (its first start imports a lot, on a busy machine).
START_TIMEOUT_S = 90.0
# Writes the programs (when changed) into the folder, then runs jupyter_env.py with the rest of
# the arguments: python3 -c LOADER ROOT BLOB COMMAND...
LOADER = (
    "# ColabLink: Jupyter on the runtime\n"
    "import base64,json,os,sys,zlib\n"
    "d=os.path.join(sys.argv[1],'.colablink','jupyter');os.makedirs(d,0o700,exist_ok=True)\n"
    "os.chmod(d,0o700)\n"
    "for n,s in json.loads(zlib.decompress(base64.b64decode(sys.argv[2]))).items():\n"
    " p=os.path.join(d,n)\n"
    " try:\n  same=open(p).read()==s\n except OSError:\n  same=False\n"
    " if not same:\n"
    "  t=p+'.tmp';f=os.open(t,os.O_WRONLY|os.O_CREAT|os.O_TRUNC,0o600)\n"
    "  with os.fdopen(f,'w') as h:h.write(s)\n"
    "  os.replace(t,p)\n"
    "sys.argv=[os.path.join(d,'jupyter_env.py')]+sys.argv[3:]\n"
    "exec(compile(open(sys.argv[0]).read(),sys.argv[0],'exec'),{'__name__':'__main__'})\n"
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class JupyterServer:
    """A server running on the runtime: where it listens there, and its token (the secret)."""

    port: int
    token: str
    run_id: str | None
    root: str

    def url(self, local_port: int, *, with_token: bool = True) -> str:
        base = f"http://127.0.0.1:{local_port}/"
        return f"{base}?token={self.token}" if with_token else base


def folder(remote_root: str) -> str:
    return posixpath.join(remote_root, FOLDER)


def program_path(remote_root: str, name: str) -> str:
    return posixpath.join(folder(remote_root), name)


def programs_blob() -> str:
    package = resources.files("colablink_runtime")
    files = {name: package.joinpath(name).read_text(encoding="utf-8") for name in PROGRAMS}
    return base64.b64encode(zlib.compress(json.dumps(files).encode(), 9)).decode("ascii")


def call_env_program(
    link: RuntimeLink, *args: str, on_progress: Progress | None = None
) -> dict[str, Any]:
    """Run ``jupyter_env.py ARGS`` on the runtime (sending the programs); its JSON answer."""
    root = link.profile.remote_root
    out = bytearray()
    err = LineSplitter(on_progress)
    code = link.exec(
        ["python3", "-c", LOADER, root, programs_blob(), *args],
        on_stdout=out.extend,
        on_stderr=err.feed,
        cancel=threading.Event(),
    )
    err.close()
    if code != 0:
        last = err.last or f"it exited with {code}"
        if code == 127:
            last = "the runtime has no python3"
        raise RemoteError(f"Setting up Jupyter on the runtime failed: {last.rstrip('.')}.")
    try:
        answer = json.loads(bytes(out).decode().strip().splitlines()[-1])
    except (ValueError, IndexError, UnicodeDecodeError):
        raise RemoteError("The runtime's Jupyter setup answered something unreadable.") from None
    if not isinstance(answer, dict):
        raise RemoteError("The runtime's Jupyter setup answered something unreadable.")
    return answer


def _server_of(answer: dict[str, Any], root: str) -> JupyterServer | None:
    """The runtime's answer checked: it is no more trusted than any other runtime text."""
    if not answer or answer.get("starting"):
        return None
    port, token, run_id = answer.get("port"), answer.get("token"), answer.get("run_id")
    if not (
        isinstance(port, int)
        and 0 < port < 65536
        and isinstance(token, str)
        and 16 <= len(token) <= 128
        and token.isalnum()
        and (run_id is None or (isinstance(run_id, str) and run_id.isalnum()))
    ):
        raise RemoteError("The runtime's Jupyter server state is malformed.")
    return JupyterServer(port, token, run_id, root)


def server_status(link: RuntimeLink) -> JupyterServer | None:
    """The server running on the runtime, or None; installs nothing and starts nothing."""
    root = link.profile.remote_root
    return _server_of(call_env_program(link, "status", root), root)


def ensure_server(link: RuntimeLink, *, on_progress: Progress | None = None) -> JupyterServer:
    """The running server, or a new one started as a supervised run (installing what it needs)."""
    root = link.profile.remote_root
    found = _server_of(call_env_program(link, "ensure", root, on_progress=on_progress), root)
    if found is not None:
        return found
    run_id = link.start_detached(["python3", program_path(root, "jupyter_env.py"), "serve", root])
    if on_progress is not None:
        on_progress(f"Starting the Jupyter server on the runtime (run {run_id})…")
    # One wait on the runtime rather than a poll per round trip (each call is a run in its list).
    answer = call_env_program(link, "await", root, run_id, str(START_TIMEOUT_S))
    if answer.get("starting"):
        raise RemoteError(
            f"The Jupyter server did not answer within {START_TIMEOUT_S:.0f} s; "
            f"`colablink logs {run_id}` shows its output."
        )
    server = _server_of(answer, root) or _server_of(call_env_program(link, "status", root), root)
    if server is None:
        raise RemoteError(
            f"The Jupyter server stopped as it started; `colablink logs {run_id}` says why."
        )
    return server


def stop_server(link: RuntimeLink) -> bool:
    """End the server and its kernels; whether one was running."""
    root = link.profile.remote_root
    return bool(call_env_program(link, "stop", root).get("stopped"))


def forward_server(link: RuntimeLink, server: JupyterServer, local_port: int = 0) -> int:
    """Serve the runtime's server on a local port (``0``: any free one); the port in use."""
    try:
        return link.forward(server.port, local_port, "127.0.0.1")
    except UsageError:
        raise
    except ColabLinkError as exc:
        raise ColabLinkError(f"Could not forward the Jupyter server: {exc.message}") from None


class LineSplitter:
    """Output cut into lines for a progress callback; the last one kept for an error."""

    def __init__(self, on_line: Progress | None) -> None:
        self._on_line = on_line
        self._partial = b""
        self.last = ""

    def feed(self, data: bytes) -> None:
        *whole, self._partial = (self._partial + data).split(b"\n")
        for line in whole:
            self._line(line)

    def close(self) -> None:
        if self._partial:
            self._line(self._partial)
            self._partial = b""

    def _line(self, raw: bytes) -> None:
        text = raw.decode(errors="replace").rstrip()
        if not text:
            return
        self.last = text
        if self._on_line is not None:
            self._on_line(text)
