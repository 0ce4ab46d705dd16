"""A user-mode runtime, run by a throwaway unprivileged account: key-only."""

from __future__ import annotations

import paramiko
import pytest
from colablink_runtime.errors import RuntimeSetupError
from support import RuntimeHandle, start_user_runtime

from .sshclient import login_with_key, run, server_key_line, transport_to


def test_offers_only_publickey(user_runtime: RuntimeHandle) -> None:
    transport = transport_to(user_runtime.port)
    try:
        with pytest.raises(paramiko.BadAuthenticationType) as caught:
            transport.auth_none(user_runtime.username)
        assert caught.value.allowed_types == ["publickey"]
    finally:
        transport.close()


def test_accepts_the_authorized_key(user_runtime: RuntimeHandle) -> None:
    assert user_runtime.password is None and user_runtime.info["password"] is None
    transport = login_with_key(user_runtime.port, user_runtime.username, user_runtime.client_key)
    try:
        assert server_key_line(transport) in user_runtime.host_keys
        code, out, _ = run(transport, f"id -un; touch {user_runtime.remote_root}/x && echo ok")
        assert (code, out.split()) == (0, [user_runtime.username, "ok"])
    finally:
        transport.close()


@pytest.mark.parametrize(
    ("options", "sentence"),
    [
        (
            {"password": "pw"},
            "Without root sshd cannot check passwords; pass authorized_keys instead.",
        ),
        ({"port": 22}, "Without root the runtime needs a port above 1023, not 22."),
        ({"username": "someoneelse"}, "Without root the runtime serves the current user"),
    ],
)
def test_user_mode_refusals_are_one_sentence(options: dict[str, object], sentence: str) -> None:
    with pytest.raises(RuntimeSetupError) as caught:
        start_user_runtime(**options)
    assert caught.value.message.startswith(sentence)


def test_handle_points_at_the_state_dir(user_runtime: RuntimeHandle) -> None:
    assert (user_runtime.state_dir / "sshd_config").is_file()
    assert f"Port {user_runtime.port}\n" in (user_runtime.state_dir / "sshd_config").read_text()
