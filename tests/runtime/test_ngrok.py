"""The ngrok provider through the real pyngrok, against a stand-in ngrok agent executable."""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from colablink_runtime import procs
from colablink_runtime.errors import RuntimeSetupError
from colablink_runtime.tunnels import NgrokTunnel, make_tunnel
from support import RuntimeHandle, pids_of_user, public_tempdir

STAND_IN = Path(__file__).with_name("ngrok_stand_in.py")
TOKEN = "2abcTOKENvalue_for_tests_only"


@pytest.fixture
def ngrok_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """(work dir, record file); the stand-in appends each argv it gets to the record."""
    work = public_tempdir("colablink-ngrok-")
    record = work / "argv.jsonl"
    monkeypatch.setenv("NGROK_STAND_IN_RECORD", str(record))
    # pyngrok would put $NGROK_AUTHTOKEN on ngrok's command line; the provider must ignore it.
    monkeypatch.setenv("NGROK_AUTHTOKEN", "env-token-must-not-leak")
    yield work, record
    shutil.rmtree(work)


def _one_sentence(message: str) -> None:
    assert "\n" not in message and message.endswith(".")
    assert ". " not in message, message


def _stand_in_pids(path: Path = STAND_IN) -> list[int]:
    return [pid for pid in procs.all_pids() if str(path) in " ".join(procs.cmdline_of(pid))]


def test_tunnel_returns_public_host_and_port(ngrok_env: tuple[Path, Path]) -> None:
    work, record = ngrok_env
    config = work / "state" / "ngrok.yml"
    tunnel = NgrokTunnel(TOKEN, config, str(STAND_IN))
    try:
        assert tunnel.open(2222) == ("4.tcp.eu.ngrok.io", 17023)
        assert len(_stand_in_pids()) == 1
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        assert json.loads(config.read_text())["agent"]["authtoken"] == TOKEN
    finally:
        tunnel.close()
    assert _stand_in_pids() == []
    argvs = [json.loads(line) for line in record.read_text().splitlines()]
    assert argvs == [[str(STAND_IN), "start", "--none", "--log", "stdout", "--config", str(config)]]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("8013", "ngrok refused the TCP tunnel because your account has no card on file"),
        ("108", "ngrok allows one agent session per free account"),
        ("badtoken", "ngrok rejected the auth token"),
    ],
)
def test_known_failures_become_one_sentence(
    ngrok_env: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, mode: str, expected: str
) -> None:
    work, _ = ngrok_env
    monkeypatch.setenv("NGROK_STAND_IN_MODE", mode)
    tunnel = NgrokTunnel(TOKEN, work / "ngrok.yml", str(STAND_IN))
    with pytest.raises(RuntimeSetupError) as caught:
        tunnel.open(2222)
    assert caught.value.message.startswith(expected)
    _one_sentence(caught.value.message)
    assert _stand_in_pids() == []


def test_missing_token_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(RuntimeSetupError) as caught:
        make_tunnel("ngrok", listen_address="127.0.0.1", token=None, state_dir=tmp_path)
    _one_sentence(caught.value.message)


def test_runtime_with_ngrok_prints_the_tunnel_address(
    ngrok_env: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    runtime_factory: Callable[..., RuntimeHandle],
) -> None:
    work, _ = ngrok_env
    bin_dir = work / "bin"
    bin_dir.mkdir()
    (bin_dir / "ngrok").symlink_to(STAND_IN)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/local/bin:/usr/bin:/bin")
    handle = runtime_factory(tunnel="ngrok", ngrok_token=TOKEN)
    assert (handle.info["host"], handle.info["port"]) == ("4.tcp.eu.ngrok.io", 17023)
    assert len(_stand_in_pids(bin_dir / "ngrok")) == 1
    handle.runtime.teardown()
    assert _stand_in_pids(bin_dir / "ngrok") == [] and pids_of_user(handle.username) == []
