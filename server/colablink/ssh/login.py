"""Logging in one round trip sooner than paramiko does.

paramiko asks for the ``ssh-userauth`` service, waits for it to be accepted, and only then sends
the login. The server reads a connection's packets in order, so the login can follow the service
request at once: one round trip less on every connect.
"""

from __future__ import annotations

import threading

import paramiko
from paramiko.auth_handler import AuthHandler
from paramiko.message import Message

_SERVICE = "ssh-userauth"


class _PipelinedAuth(AuthHandler):
    def __init__(self, transport: paramiko.Transport) -> None:
        super().__init__(transport)
        self._early = False

    def _request_auth(self) -> None:
        key = self.private_key
        # An RSA signature's algorithm is picked from the server's extension list, which may
        # not have arrived yet: that login waits for the service as paramiko does. Decided
        # before the request leaves: its acceptance can arrive, on the transport's thread, at once.
        self._early = not (
            self.auth_method == "publickey" and key is not None and "rsa" in key.get_name()
        )
        super()._request_auth()  # type: ignore[misc]
        if self._early:
            accepted = Message()
            accepted.add_string(_SERVICE)
            accepted.rewind()
            super()._parse_service_accept(accepted)  # type: ignore[misc]

    def _parse_service_accept(self, m: Message) -> None:
        if not self._early:
            super()._parse_service_accept(m)  # type: ignore[misc]


def login(
    transport: paramiko.Transport,
    username: str,
    *,
    key: paramiko.PKey | None = None,
    password: str | None = None,
) -> None:
    """Log in with ``key`` or else ``password``; raises as ``Transport.auth_*`` do."""
    done = threading.Event()
    handler = _PipelinedAuth(transport)
    transport.auth_handler = handler
    if key is not None:
        handler.auth_publickey(username, key, done)
    else:
        assert password is not None
        handler.auth_password(username, password, done)
    handler.wait_for_response(done)
