"""``init`` as another local user, at a hidden prompt, for key-only runtimes and any SSH box."""

from __future__ import annotations

import json
import os
import pty
import pwd
import select
import stat
import sys
import time
from pathlib import Path

from colablink.local import keys
from support.accounts import create_account, remove_account
from support.runtimes import RuntimeHandle
from support.system import foreign_pythonpath, run_as

from .conftest import Local
from .test_init import assert_one_sentence_error, remote_authorized_keys


def test_cli_as_another_local_user_writes_into_its_passwd_home(runtime: RuntimeHandle) -> None:
    user = create_account("clti")
    try:
        home = Path(pwd.getpwnam(user).pw_dir)
        uid = pwd.getpwnam(user).pw_uid
        # No COLABLINK_* variables: everything goes to the defaults under the passwd home.
        result = run_as(
            user,
            ["/usr/bin/python3", "-m", "colablink", "init"],
            {"PYTHONPATH": foreign_pythonpath()},
            input=json.dumps(runtime.info).encode(),
        )
        assert result.returncode == 0, result.stderr.decode()
        assert b"ssh colablink-default" in result.stdout
        config = home / ".ssh" / "config"
        key = home / ".config" / "colablink" / "keys" / "default"
        for path in [config, key, home / ".config" / "colablink" / "profiles" / "default.json"]:
            info = path.stat()
            assert info.st_uid == uid and stat.S_IMODE(info.st_mode) == 0o600, path
        for argv in (
            ["ssh", "-o", "BatchMode=yes", "colablink-default", "true"],
            ["ssh", "-F", str(config), "-o", "BatchMode=yes", "colablink-default", "true"],
        ):
            check = run_as(user, argv)
            assert check.returncode == 0, check.stderr.decode()
        assert runtime.password
        for path in (home / ".config").rglob("*"):
            if path.is_file():
                assert runtime.password.encode() not in path.read_bytes(), path
    finally:
        remove_account(user)


def test_hidden_prompt_reads_the_info_without_echo(runtime: RuntimeHandle, local: Local) -> None:
    assert runtime.password
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(local.project)
        os.execve(sys.executable, [sys.executable, "-m", "colablink", "init"], local.env)
    seen = b""

    def read_until(needle: bytes, timeout: float = 30) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while needle not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
        assert needle in seen, seen

    try:
        read_until(b"input is hidden")
        # Pasted as indented multi-line JSON, the way a notebook might show it.
        for line in json.dumps(runtime.info, indent=2).splitlines():
            os.write(master, line.encode() + b"\n")
        read_until(b"Connect with:")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(master)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert runtime.password.encode() not in seen, "the terminal never showed the password"
    assert local.ssh("colablink-default").returncode == 0


def test_key_only_runtime_needs_identity(user_runtime: RuntimeHandle, local: Local) -> None:
    assert user_runtime.info["password"] is None
    result = local.cli("init", input=json.dumps(user_runtime.info))
    assert_one_sentence_error(result, "--identity")
    bogus = local.base / "not-a-key"
    bogus.write_text("hello")
    result = local.cli("init", "--identity", str(bogus), input=json.dumps(user_runtime.info))
    assert_one_sentence_error(result, "not an unencrypted SSH private key")
    stranger = local.base / "stranger"
    keys.generate_keypair(stranger, "not authorized")
    result = local.cli("init", "--identity", str(stranger), input=json.dumps(user_runtime.info))
    assert_one_sentence_error(result, "refused the key")
    assert local.files() == {}
    result = local.cli(
        "init", "--identity", str(user_runtime.client_key), input=json.dumps(user_runtime.info)
    )
    assert result.returncode == 0, result.stderr
    assert local.ssh("colablink-default").returncode == 0
    # ColabLink's own key, not the identity, is what the alias uses.
    written = local.ssh_config.read_text()
    assert f'IdentityFile "{local.ssh_escaped_config_dir}/keys/default"' in written
    # Checked first, so the check after forget reads a file that held the key.
    assert "colablink-default" in remote_authorized_keys(user_runtime.username)
    forgot = local.cli("disconnect", "--forget")
    assert forgot.returncode == 0, forgot.stderr
    assert "colablink-default" not in remote_authorized_keys(user_runtime.username)
    assert user_runtime.client_key.exists(), "the user's own key is never deleted"


def _fingerprint(runtime: RuntimeHandle, key_type: str) -> str:
    line = next(key for key in runtime.host_keys if key.startswith(key_type))
    return keys.fingerprint(line)


def test_any_ssh_box_by_fingerprint(runtime: RuntimeHandle, local: Local) -> None:
    spec = f"{runtime.username}@127.0.0.1:{runtime.port}"
    identity = str(runtime.client_key)
    ecdsa = _fingerprint(runtime, "ecdsa")
    wrong = keys.fingerprint(keys.generate_keypair(local.base / "other", "x"))
    result = local.cli("init", "--ssh", spec, "--identity", identity, "--host-key", wrong)
    assert_one_sentence_error(result, "no host key with fingerprint")
    result = local.cli("init", "--ssh", spec, "--identity", identity)
    assert_one_sentence_error(result, "known_hosts")
    assert local.files() == {}

    result = local.cli("init", "--ssh", spec, "--identity", identity, "--host-key", ecdsa)
    assert result.returncode == 0, result.stderr
    profile = json.loads((local.config_dir / "profiles" / "default.json").read_text())
    assert profile["remote_root"] == f"/home/{runtime.username}/colablink"
    assert [keys.fingerprint(key) for key in profile["host_keys"]] == [ecdsa]
    assert local.ssh("colablink-default").returncode == 0


def test_any_ssh_box_from_known_hosts(runtime: RuntimeHandle, local: Local) -> None:
    known = Path(local.env["HOME"]) / ".ssh" / "known_hosts"
    known.parent.mkdir(parents=True)
    ed25519 = next(key for key in runtime.host_keys if key.startswith("ssh-ed25519"))
    known.write_text(f"[127.0.0.1]:{runtime.port} {ed25519}\n")
    spec = f"{runtime.username}@127.0.0.1:{runtime.port}"
    result = local.cli(
        *("-p", "box", "init", "--ssh", spec, "--identity", str(runtime.client_key)),
        *("--remote-root", "projects", "--remote-dir", "run1"),
    )
    assert result.returncode == 0, result.stderr
    where = f"/home/{runtime.username}/projects/run1"
    assert local.ssh("colablink-box", f"test -d {where}").returncode == 0
    assert known.read_text() == f"[127.0.0.1]:{runtime.port} {ed25519}\n", "never written"
