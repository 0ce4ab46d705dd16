"""The runtime's Jupyter server as this window reaches it: found or started, and forwarded once.

``colablink/jupyter/ensure`` (the kernel picker's ColabLink entry) and the ``# %%`` cells' kernels
share one forward per profile, opened on the profile's holder (the window's connection or the
daemon's) and opened anew when the server changed (a new port or token after a restart).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

from colablink.errors import ColabLinkError
from colablink.helper.live import LiveProfile
from colablink.helper.protocol import JupyterEnsureResult
from colablink.notebooks.jupyter_server import JupyterServer, ensure_server, forward_server
from colablink.notebooks.kernel_client import JupyterClient


@dataclass(frozen=True)
class Forwarded:
    live: LiveProfile
    server: JupyterServer
    local_port: int

    def client(self) -> JupyterClient:
        return JupyterClient(self.local_port, self.server.token)

    def result(self) -> JupyterEnsureResult:
        return {
            "baseUrl": self.server.url(self.local_port, with_token=False),
            "token": self.server.token,
            "localRoot": str(self.live.profile.project_root),
        }


class JupyterForwards:
    """Per profile: the server last found and this window's forward to it (blocking calls)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._held: dict[str, Forwarded] = {}

    def _profile_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(name, threading.Lock())

    def ensure(self, live: LiveProfile, on_progress: Callable[[str], None] | None) -> Forwarded:
        """Asks the runtime (starting the server when none runs); reuses a forward still right."""
        with self._profile_lock(live.name):
            server = ensure_server(live, on_progress=on_progress)
            held = self._held.get(live.name)
            if held is not None and held.live is live and held.server == server:
                return held
            if held is not None and held.live is live:
                self._unforward(held)
            forwarded = Forwarded(live, server, forward_server(live, server))
            self._held[live.name] = forwarded
            return forwarded

    def current(self, live: LiveProfile, on_progress: Callable[[str], None] | None) -> Forwarded:
        """The forward already open for ``live``, else ``ensure``'s."""
        held = self._held.get(live.name)
        if held is not None and held.live is live:
            return held
        return self.ensure(live, on_progress)

    def forget(self, forwarded: Forwarded) -> None:
        """The forward stopped answering: the next call asks the runtime again."""
        with self._profile_lock(forwarded.live.name):
            if self._held.get(forwarded.live.name) is forwarded:
                del self._held[forwarded.live.name]
                self._unforward(forwarded)

    @staticmethod
    def _unforward(forwarded: Forwarded) -> None:
        # A forward that went with its connection needs no stopping.
        with contextlib.suppress(ColabLinkError):
            forwarded.live.unforward(forwarded.local_port)
