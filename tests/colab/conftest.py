"""Google's real ``colab`` client (its own venv, cached) against the loopback endpoint stand-in.

The client finds the stand-in through three files in a scratch HOME: a far-from-expired OAuth
token, a session whose ``url`` is the stand-in and whose ``token_expires_at`` is set (without it the
client asks Google's API for a fresh token), and the update check switched off. With them the client
connects to nothing but the stand-in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from colablink.local import keys
from support.runtimes import RuntimeHandle

from .standin import TOKEN, ColabEndpoint, endpoint, write_client_home

CLIENT_VERSION = "0.7.5"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "colablink-tests"


@pytest.fixture(scope="session")
def colab_cli() -> Path:
    """The ``colab`` executable; installed once (Requires-Python >= 3.12 is waived, it runs)."""
    venv = cache_dir() / f"colab-cli-{CLIENT_VERSION}"
    cli = venv / "bin" / "colab"
    if not cli.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "--ignore-requires-python",
             f"google-colab-cli=={CLIENT_VERSION}"],
            check=True,
        )  # fmt: skip
    return cli


@dataclass
class Channel:
    """A runtime behind the stand-in, and a client HOME pointing at it."""

    runtime: RuntimeHandle
    endpoint: ColabEndpoint
    cli: Path
    home: Path
    key: Path  # a key only the channel's header authorizes

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.home)}


@pytest.fixture
def channel(
    runtime: RuntimeHandle, colab_cli: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Channel]:
    key = tmp_path / "keys" / "colab_ed25519"
    key.parent.mkdir()
    keys.generate_keypair(key, "colablink-test")
    with endpoint(runtime.port, runtime.state_dir / "authorized_keys", TOKEN) as server:
        home = tmp_path / "client home"
        write_client_home(home, server.url)
        # The ProxyCommand inherits our environment: the client reads its state from this HOME.
        monkeypatch.setenv("HOME", str(home))
        yield Channel(runtime, server, colab_cli, home, key)
