"""Sessions through Google's real ``colab ssh --proxy-mode`` and the endpoint stand-in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from colablink.enroll import colab
from colablink.errors import Unreachable, UsageError
from colablink.ssh.session import Session, SshTarget
from colablink.ssh.transport import ProxyCommand

from .conftest import Channel
from .standin import SESSION


def target(channel: Channel) -> SshTarget:
    rt = channel.runtime
    argv = colab.proxy_argv(channel.cli, SESSION, channel.key)
    # HostName and port name nothing reachable: only the channel gets through.
    return SshTarget(
        "colab-runtime",
        9,
        rt.username,
        tuple(rt.host_keys),
        channel.key,
        transport=ProxyCommand(argv),
    )


def dial(channel: Channel) -> Session:
    try:
        return Session.connect(target(channel), timeout=20)
    except Unreachable as exc:
        raise colab.explain(exc) from None


def test_a_session_through_the_real_client_logs_in_with_the_headers_key(
    channel: Channel,
) -> None:
    with dial(channel) as session:
        result = session.run(["sh", "-c", "echo ok"])
        assert (result.exit_code, result.stdout) == (0, b"ok\n")
        # One at a time: a second dial is refused by the endpoint and says so in our words.
        with pytest.raises(Unreachable) as second:
            dial(channel)
        assert str(second.value) == colab.sentence_for(429)
    public = colab_public(channel.key)
    assert public in (channel.runtime.state_dir / "authorized_keys").read_text()
    assert channel.endpoint.connections == 1 and channel.endpoint.refused == [429]


def colab_public(key: Path) -> str:
    return " ".join(Path(f"{key}.pub").read_text().split()[:2])


def test_each_refusal_gives_its_sentence(channel: Channel) -> None:
    for status in (400, 401, 403, 404, 429, 502):
        channel.endpoint.fail_with = status
        with pytest.raises(Unreachable) as refused:
            dial(channel)
        assert str(refused.value) == colab.sentence_for(status), status
    assert channel.endpoint.connections == 0


def test_finding_the_client_and_its_login(tmp_path: Path, colab_cli: Path) -> None:
    bare = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    with pytest.raises(UsageError, match="pipx install google-colab-cli"):
        colab.find_cli(None, bare)
    assert colab.find_cli(None, {**bare, colab.ENV_VAR: str(colab_cli)}) == colab_cli
    assert colab.find_cli(str(colab_cli), bare) == colab_cli
    with pytest.raises(UsageError, match=r"--colab-cli names .* not an executable"):
        colab.find_cli(str(tmp_path / "nope"), bare)
    linked = tmp_path / "colab"
    os.symlink(colab_cli, linked)
    assert colab.find_cli(None, bare) == linked
    with pytest.raises(UsageError, match="not logged in"):
        colab.check_logged_in(bare)
