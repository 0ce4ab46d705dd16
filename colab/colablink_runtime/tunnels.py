"""Tunnel providers: how a client reaches the runtime's sshd from outside.

A provider opens a public address for a local port and closes it again. ``none`` connects
directly; ``ngrok`` uses pyngrok, imported only when chosen.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from colablink_runtime.errors import RuntimeSetupError

TUNNEL_NAMES = ("ngrok", "none")


class Tunnel(Protocol):
    def open(self, port: int) -> tuple[str, int]:
        """Expose the local ``port``; return the (host, port) a client dials."""

    def close(self) -> None: ...


class DirectTunnel:
    """No tunnel: clients dial the listen address itself."""

    def __init__(self, listen_address: str) -> None:
        self._address = listen_address

    def open(self, port: int) -> tuple[str, int]:
        if self._address in ("0.0.0.0", "::"):  # noqa: S104 (recognised, not bound)
            return socket.getfqdn(), port
        return self._address, port

    def close(self) -> None:
        return None


_NGROK_ERRORS = {
    "ERR_NGROK_8013": (
        "ngrok refused the TCP tunnel because your account has no card on file "
        "(ERR_NGROK_8013); add one at https://dashboard.ngrok.com or use another tunnel."
    ),
    "ERR_NGROK_108": (
        "ngrok allows one agent session per free account and another one is running "
        "(ERR_NGROK_108); stop it (or end it at https://dashboard.ngrok.com/agents) and run again."
    ),
}
_BAD_TOKEN_MARKERS = ("ERR_NGROK_105", "ERR_NGROK_107", "authentication failed", "authtoken")
_REJECTED_CREDENTIAL = (
    "ngrok rejected the auth token; copy it again from "
    "https://dashboard.ngrok.com/get-started/your-authtoken and run again."
)


def ngrok_error_sentence(detail: str) -> str:
    """Map what ngrok said to one sentence the user can act on."""
    for code, sentence in _NGROK_ERRORS.items():
        if code in detail:
            return sentence
    if any(marker.lower() in detail.lower() for marker in _BAD_TOKEN_MARKERS):
        return _REJECTED_CREDENTIAL
    first = detail.strip().splitlines()[0][:200] if detail.strip() else "no details"
    return f"ngrok could not open the tunnel ({first})."


def write_ngrok_config(config_path: Path, token: str) -> None:
    """The token goes into ngrok's own 0600 config file so that no command line carries it."""
    config_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # JSON is valid YAML, which is what ngrok and pyngrok read.
    data = json.dumps({"version": "3", "agent": {"authtoken": token}})
    fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(data + "\n")
    config_path.chmod(0o600)


class NgrokTunnel:
    """A TCP tunnel through ngrok, driven by pyngrok."""

    def __init__(self, token: str | None, config_path: Path, ngrok_path: str | None = None) -> None:
        if not token:
            raise RuntimeSetupError(
                "The ngrok tunnel needs your ngrok auth token; pass ngrok_token (or choose "
                'tunnel="none").'
            )
        self._token = token
        self._config_path = config_path
        self._ngrok_path = ngrok_path
        self._config: Any = None
        self._public_url: str | None = None

    def _pyngrok_config(self) -> Any:
        from pyngrok import conf

        config = conf.PyngrokConfig(
            ngrok_path=self._ngrok_path,
            config_path=str(self._config_path),
            start_new_session=True,
        )
        # PyngrokConfig falls back to $NGROK_AUTHTOKEN, which it would pass as --authtoken.
        config.auth_token = None
        return config

    def open(self, port: int) -> tuple[str, int]:
        from pyngrok import ngrok
        from pyngrok.exception import PyngrokError, PyngrokNgrokError, PyngrokNgrokHTTPError

        write_ngrok_config(self._config_path, self._token)
        self._config = self._pyngrok_config()
        # A rerun of the cell: end our earlier agent first, or ngrok counts two sessions.
        ngrok.kill(self._config)
        try:
            tunnel = ngrok.connect(str(port), "tcp", pyngrok_config=self._config)
        except PyngrokNgrokHTTPError as exc:
            ngrok.kill(self._config)
            raise RuntimeSetupError(ngrok_error_sentence(f"{exc.body} {exc.message}")) from None
        except PyngrokNgrokError as exc:
            ngrok.kill(self._config)
            logs = " ".join(log.line for log in exc.ngrok_logs)
            raise RuntimeSetupError(
                ngrok_error_sentence(f"{exc.ngrok_error or ''} {exc} {logs}")
            ) from None
        except PyngrokError as exc:
            ngrok.kill(self._config)
            raise RuntimeSetupError(ngrok_error_sentence(str(exc))) from None
        self._public_url = str(tunnel.public_url)
        url = urlsplit(self._public_url)
        if url.hostname is None or url.port is None:
            self.close()
            raise RuntimeSetupError(f"ngrok returned an address without host and port: {url}.")
        return url.hostname, url.port

    def close(self) -> None:
        if self._config is None:
            return
        from pyngrok import ngrok

        if self._public_url is not None:
            # Closing goes on to kill the agent whatever the API answered.
            with contextlib.suppress(Exception):
                ngrok.disconnect(self._public_url, pyngrok_config=self._config)
        ngrok.kill(self._config)
        self._config = None
        self._public_url = None


def make_tunnel(name: str, *, listen_address: str, token: str | None, state_dir: Path) -> Tunnel:
    if name == "none":
        return DirectTunnel(listen_address)
    if name == "ngrok":
        # An ngrok already on PATH is used as is; otherwise pyngrok downloads its own.
        return NgrokTunnel(token, state_dir / "ngrok.yml", shutil.which("ngrok"))
    raise RuntimeSetupError(f"Unknown tunnel {name!r}; choose one of: {', '.join(TUNNEL_NAMES)}.")
