"""Colab's official SSH channel: Google's ``colab`` client as the profile's ProxyCommand.

``colab ssh --proxy-mode -s SESSION -i KEY`` bridges stdio to the runtime's ``/colab/ssh``
WebSocket, sending KEY's public half in a header; the endpoint takes one connection at a time.
What the client prints when the handshake fails ("... (HTTP 429) ...") becomes one sentence of ours.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from colablink.errors import ColabLinkError, Unreachable, UsageError

ENV_VAR = "COLABLINK_COLAB_CLI"
INSTALL_HINT = (
    "install Google's client in its own environment with `pipx install google-colab-cli` "
    "(it needs Python 3.12 or newer), or name it with --colab-cli PATH or COLABLINK_COLAB_CLI"
)

_SENTENCES = {
    400: "The Colab runtime refused the profile's key (HTTP 400); it takes ed25519 or ecdsa keys "
    "only, so re-run `colablink init --colab`.",
    401: "The Colab session's token is invalid or expired (HTTP 401); run `colab sessions` to "
    "refresh it, then try again.",
    403: "Colab refused the SSH connection (HTTP 403); check that this Google account owns the "
    "session with `colab sessions`.",
    404: "This Colab runtime was created without SSH (HTTP 404); stop it with `colab stop` and "
    "create one with `colablink init --colab --gpu T4` (or `colab new`).",
    429: "Another SSH connection to this Colab runtime is already open (HTTP 429); the channel "
    "takes one at a time, so stop the other `colab ssh` or use `colablink watch`, which shares "
    "its connection.",
    502: "The Colab runtime's sshd is not answering (HTTP 502); check it with `colab status`, or "
    "restart the runtime with `colab stop` and `colablink init --colab`.",
}
_STATUS = re.compile(r"\(HTTP (\d{3})\)")
NOT_LOGGED_IN = (
    "Google's `colab` client is not logged in; run `colab sessions` once to sign in with your "
    "Google account, then try again."
)


def find_cli(flag: str | None, env: Mapping[str, str] | None = None) -> Path:
    """The ``colab`` executable: ``--colab-cli``, then ``COLABLINK_COLAB_CLI``, then PATH."""
    environ = os.environ if env is None else env
    named = flag or environ.get(ENV_VAR)
    if named:
        path = Path(named).expanduser().absolute()
        if not (path.is_file() and os.access(path, os.X_OK)):
            source = "--colab-cli" if flag else ENV_VAR
            raise UsageError(f"{source} names {path}, which is not an executable; {INSTALL_HINT}.")
        return path
    found = shutil.which("colab", path=environ.get("PATH"))
    if found is None:
        raise UsageError(f"Google's `colab` client is not installed; {INSTALL_HINT}.")
    return Path(found).absolute()


def check_logged_in(env: Mapping[str, str] | None = None) -> None:
    """Refuse before dialling: without its token file the client would start a sign-in flow on
    the SSH stream's stdin."""
    home = Path((os.environ if env is None else env).get("HOME", "~")).expanduser()
    if not (home / ".config" / "colab-cli" / "token.json").is_file():
        raise UsageError(NOT_LOGGED_IN)


def proxy_argv(cli: Path, session: str, key_path: Path) -> tuple[str, ...]:
    """The ProxyCommand for ``session``, logging in with the profile's own key."""
    return (str(cli), "ssh", "--proxy-mode", "-s", session, "-i", str(key_path.absolute()))


def sentence_for(status: int) -> str | None:
    return _SENTENCES.get(status)


def explain(error: Unreachable) -> ColabLinkError:
    """What a failed dial through the channel means, as one sentence of ours where we know it."""
    text = str(error)
    match = _STATUS.search(text)
    if match is not None and (sentence := sentence_for(int(match.group(1)))) is not None:
        return Unreachable(sentence)
    return error
