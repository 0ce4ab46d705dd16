"""The sshd settings as sshd itself reads them (`sshd -T`), and the sftp subsystem in use."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from colablink_runtime import sshd
from colablink_runtime.runtime import ColabRuntime
from support import RuntimeHandle

from .sshclient import login_with_key, transport_to


def _effective(runtime: ColabRuntime) -> dict[str, str]:
    result = subprocess.run(
        [str(sshd.SSHD_PATH), "-T", "-f", str(runtime.config_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    settings: dict[str, str] = {}
    for line in result.stdout.splitlines():
        name, _, value = line.partition(" ")
        settings.setdefault(name, value)
    return settings


def test_effective_settings(runtime: RuntimeHandle) -> None:
    assert isinstance(runtime.runtime, ColabRuntime)
    settings = _effective(runtime.runtime)
    assert settings["permitrootlogin"] == "no"
    assert settings["allowusers"] == runtime.username
    assert settings["passwordauthentication"] == "yes"
    assert settings["pubkeyauthentication"] == "yes"
    assert settings["clientaliveinterval"] == "30"
    assert settings["rekeylimit"] == "268435456 3600"
    assert settings["subsystem"] == "sftp /usr/lib/openssh/sftp-server"
    assert settings["listenaddress"] == f"127.0.0.1:{runtime.port}"
    assert settings["pidfile"].startswith(str(runtime.runtime.state_dir))
    # The system's own config is never the one in use.
    assert "/etc/ssh/sshd_config" not in runtime.runtime.config_path.read_text()


def test_sftp_works(runtime: RuntimeHandle) -> None:
    transport = login_with_key(runtime.port, runtime.username, runtime.client_key)
    try:
        sftp = transport.open_sftp_client()
        assert sftp is not None
        with sftp.open(f"{runtime.remote_root}/via-sftp.txt", "w") as handle:
            handle.write(b"hello")
        assert sftp.stat(f"{runtime.remote_root}/via-sftp.txt").st_size == 5
        sftp.close()
    finally:
        transport.close()


def test_other_listen_address(runtime_factory: Callable[..., RuntimeHandle]) -> None:
    handle = runtime_factory(listen_address="127.0.0.2")
    assert handle.info["host"] == "127.0.0.2"
    assert isinstance(handle.runtime, ColabRuntime)
    assert _effective(handle.runtime)["listenaddress"] == f"127.0.0.2:{handle.port}"
    transport = transport_to(handle.port, host="127.0.0.2")
    transport.close()
