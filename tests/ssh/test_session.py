"""Connecting: pinned host key checked before any credential, tuned transport, clear failures."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from colablink.errors import AuthFailed, HostKeyMismatch, Unreachable
from colablink.ssh import session as session_module
from colablink.ssh.session import Session
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paramiko.common import MSG_CHANNEL_OPEN, MSG_SERVICE_REQUEST, MSG_USERAUTH_REQUEST
from support import free_port
from support.runtimes import RuntimeHandle

from bench.delay_proxy import DelayProxy

from .targets import key_target


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float]]:
    """Every SSH message type the client sends, with when it left (spied at the packet layer,
    still sent for real)."""
    seen: list[tuple[int, float]] = []
    original = session_module._Packetizer.send_message

    def spy(self: paramiko.Packetizer, data: paramiko.Message) -> None:
        seen.append((data.asbytes()[0], time.monotonic()))
        original(self, data)

    monkeypatch.setattr(session_module._Packetizer, "send_message", spy)
    return seen


def types(sent: list[tuple[int, float]]) -> list[int]:
    return [kind for kind, _ in sent]


def other_ed25519_key() -> str:
    public = Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def test_key_login_uses_gcm_and_nodelay(
    runtime: RuntimeHandle, sent: list[tuple[int, float]]
) -> None:
    with Session.connect(key_target(runtime)) as s:
        assert s.is_active()
        assert s.transport.local_cipher == "aes128-gcm@openssh.com"
        assert s.transport.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)  # type: ignore[union-attr]
        assert s.run(["id", "-un"]).stdout.decode().strip() == runtime.username
    # The spy sees the login: the refusal test below would notice one.
    assert MSG_USERAUTH_REQUEST in types(sent)


@pytest.mark.parametrize("how", ["key", "password"])
def test_the_login_follows_its_service_request_without_waiting_a_round_trip(
    runtime: RuntimeHandle,
    sent: list[tuple[int, float]],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    credentials: dict[str, object] = (
        {} if how == "key" else {"key_path": None, "password": runtime.password}
    )
    delay = 0.05
    with DelayProxy(runtime.host, runtime.port, delay=delay) as proxy:
        for _ in range(5):
            with Session.connect(key_target(runtime, port=proxy.port, **credentials)) as s:
                assert s.run("echo ok").stdout == b"ok\n"
    requests = [at for kind, at in sent if kind == MSG_SERVICE_REQUEST]
    logins = [at for kind, at in sent if kind == MSG_USERAUTH_REQUEST]
    assert len(requests) == len(logins) == 5, "one service request and one login per connect"
    # Waiting for the acceptance would put a whole round trip (0.1 s) between the two.
    assert max(login - asked for asked, login in zip(requests, logins, strict=True)) < delay
    # Here the acceptance is back, and handled, before the login leaves: still one login.
    spied = session_module._Packetizer.send_message

    def held(self: paramiko.Packetizer, data: paramiko.Message) -> None:
        spied(self, data)
        if data.asbytes()[0] == MSG_SERVICE_REQUEST:
            time.sleep(0.02)

    monkeypatch.setattr(session_module._Packetizer, "send_message", held)
    for _ in range(30):
        Session.connect(key_target(runtime, **credentials)).close()
    assert types(sent).count(MSG_USERAUTH_REQUEST) == 35
    # sshd took each login as a login, not as an out-of-turn packet.
    assert "dispatch_protocol_error" not in (runtime.state_dir / "sshd.log").read_text()


def test_first_channel_is_not_stalled_by_nagle(runtime: RuntimeHandle) -> None:
    timings = []
    for _ in range(3):
        with Session.connect(key_target(runtime)) as s:
            start = time.perf_counter()
            s.run(["true"])
            timings.append(time.perf_counter() - start)
    # Without the ACK nudge the first channel costs ~45 ms (Nagle vs. delayed ACK).
    assert min(timings) < 0.035, timings


def test_password_login(runtime: RuntimeHandle) -> None:
    assert runtime.password
    target = key_target(runtime, key_path=None, password=runtime.password)
    with Session.connect(target) as s:
        assert s.run("echo ok").stdout == b"ok\n"


def test_wrong_password_is_auth_failed(runtime: RuntimeHandle) -> None:
    target = key_target(runtime, key_path=None, password="not-the-password")
    with pytest.raises(AuthFailed, match="refused the password") as info:
        Session.connect(target)
    assert "\n" not in str(info.value)


def test_unauthorized_key_is_auth_failed(runtime: RuntimeHandle, tmp_path: Path) -> None:
    from support import make_client_key

    make_client_key(tmp_path / "stranger")
    with pytest.raises(AuthFailed, match="refused the key"):
        Session.connect(key_target(runtime, key_path=tmp_path / "stranger"))


def test_replaced_host_key_is_refused_before_anything_is_sent(
    runtime: RuntimeHandle, sent: list[tuple[int, float]]
) -> None:
    target = key_target(runtime, host_keys=(other_ed25519_key(),), password=runtime.password)
    with pytest.raises(HostKeyMismatch, match="re-run `colablink init`") as info:
        Session.connect(target)
    assert "\n" not in str(info.value)
    assert sent, "the spy saw the key exchange"
    for forbidden in (MSG_SERVICE_REQUEST, MSG_USERAUTH_REQUEST, MSG_CHANNEL_OPEN):
        assert forbidden not in types(sent)


def test_refused_port_is_unreachable() -> None:
    target = session_module.SshTarget(
        "127.0.0.1", free_port(), "nobody", ("ssh-ed25519 AAAA",), password="x"
    )
    with pytest.raises(Unreachable, match="Cannot connect"):
        Session.connect(target)


def test_unknown_host_is_unreachable() -> None:
    target = session_module.SshTarget(
        "no-such-host.invalid", 22, "nobody", ("ssh-ed25519 AAAA",), password="x"
    )
    with pytest.raises(Unreachable, match="Cannot resolve"):
        Session.connect(target)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts but never speaks SSH, like a stuck tunnel."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    thread = threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()
    for conn in held:
        conn.close()


def test_silent_server_times_out_as_unreachable(silent_port: int) -> None:
    target = session_module.SshTarget(
        "127.0.0.1", silent_port, "nobody", ("ssh-ed25519 AAAA",), password="x"
    )
    start = time.monotonic()
    with pytest.raises(Unreachable, match="SSH handshake"):
        Session.connect(target, timeout=1.0)
    assert time.monotonic() - start < 5
