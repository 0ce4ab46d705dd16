"""``colablink init`` against a real runtime, checked with the real OpenSSH client."""

from __future__ import annotations

import json
import os
import pwd
import re
import stat
import subprocess
import threading
from pathlib import Path

from colablink.local import keys
from support.runtimes import RuntimeHandle
from support.system import free_port

from .conftest import Local


def remote_authorized_keys(username: str) -> str:
    path = Path(pwd.getpwnam(username).pw_dir) / ".ssh" / "authorized_keys"
    return path.read_text() if path.exists() else ""


def assert_one_sentence_error(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("colablink: ") and words in lines[0], lines[0]


def test_init_from_stdin_gives_a_working_openssh_alias(
    runtime: RuntimeHandle, local: Local
) -> None:
    result = local.cli("--profile", "gpu", "init", input=json.dumps(runtime.info))
    assert result.returncode == 0, result.stderr
    assert "colablink-gpu" in result.stdout
    assert "shell history" not in result.stderr

    check = local.ssh("colablink-gpu", "pwd; whoami")
    assert check.returncode == 0, check.stderr
    assert check.stdout.split() == [f"/home/{runtime.username}", runtime.username]

    config = local.ssh_config.read_text()
    assert "~" not in config
    assert f'IdentityFile "{local.ssh_escaped_config_dir}/keys/gpu"' in config
    profile = json.loads((local.config_dir / "profiles" / "gpu.json").read_text())
    assert profile["host_keys"] == runtime.info["host_keys"]
    remote_dir = f"{runtime.remote_root}/{profile['remote_dir']}"
    assert re.fullmatch(r"connection_[a-z0-9]{6}", profile["remote_dir"])
    assert local.ssh("colablink-gpu", f"test -d {remote_dir}").returncode == 0
    assert (local.project / profile["local_dir"]).is_dir()

    # Private files, and the password nowhere on disk.
    password = runtime.password
    assert password
    for path, data in local.files().items():
        assert password.encode() not in data, path
    for path in [
        local.config_dir / "profiles" / "gpu.json",
        local.config_dir / "keys" / "gpu",
        local.config_dir / "keys" / "gpu.pub",
        local.config_dir / "known_hosts",
        local.ssh_config,
    ]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for directory in [local.config_dir, local.config_dir / "profiles", local.config_dir / "keys"]:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    blob = keys.key_blob(keys.public_line(local.config_dir / "keys" / "gpu"))
    assert remote_authorized_keys(runtime.username).count(blob) == 1

    listing = local.cli("profiles")
    assert listing.returncode == 0
    row = rf"^gpu +{runtime.username}@127\.0\.0\.1:{runtime.port} "
    assert re.search(row, listing.stdout, re.M)
    assert remote_dir in listing.stdout

    # Running it again changes nothing: same key, one authorized_keys line, one block.
    before = local.files()
    again = local.cli("--profile", "gpu", "init", input=json.dumps(runtime.info))
    assert again.returncode == 0, again.stderr
    assert remote_authorized_keys(runtime.username).count(blob) == 1
    after = local.files()
    backup = str(local.ssh_config) + ".bak"
    assert {k: v for k, v in after.items() if k != backup} == before


def _argv_scanner(needle: bytes, seen: list[bytes], stop: threading.Event) -> None:
    """Read every process's argv on the machine, over and over, until told to stop."""
    while not stop.is_set():
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    argv = handle.read()
            except OSError:
                continue
            if needle in argv or b"colablink init-marker" in argv.replace(b"\0", b" "):
                seen.append(argv)


def test_no_password_in_any_argv_during_init(runtime: RuntimeHandle, local: Local) -> None:
    password = runtime.password
    assert password
    seen: list[bytes] = []
    stop = threading.Event()
    scanner = threading.Thread(target=_argv_scanner, args=(password.encode(), seen, stop))
    audit_log = local.base / "exec-audit.json"
    # An audit hook inside the CLI records every process it would start, with its argv.
    hook = (
        "import json, sys\n"
        f"log = open({str(audit_log)!r}, 'w')\n"
        "def hook(event, args):\n"
        "    if event in ('subprocess.Popen', 'os.exec', 'os.posix_spawn', 'os.spawn',"
        " 'os.system'):\n"
        "        log.write(json.dumps([event, repr(args)]) + '\\n'); log.flush()\n"
        "sys.addaudithook(hook)\n"
        "import subprocess\n"
        "subprocess.run(['true', 'colablink', 'audit-check'])\n"
        "from colablink.cli.main import main\n"
        "sys.exit(main(['init']))\n"
    )
    scanner.start()
    try:
        result = subprocess.run(
            [os.sys.executable, "-c", hook, "colablink", "init-marker"],
            env=local.env,
            cwd=local.project,
            input=json.dumps(runtime.info),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        stop.set()
        scanner.join()
    assert result.returncode == 0, result.stderr
    # The scanner did see the CLI running (so it was looking at the right time) ...
    assert any(b"init-marker" in argv for argv in seen)
    # ... and never the password.
    assert not [argv for argv in seen if password.encode() in argv]
    audit = audit_log.read_text()
    assert "audit-check" in audit, "the audit hook is live"
    assert password not in audit


def test_positional_info_works_but_warns_about_history(
    runtime: RuntimeHandle, local: Local
) -> None:
    result = local.cli("init", json.dumps(runtime.info), "--remote-dir", "run1")
    assert result.returncode == 0, result.stderr
    assert "shell history" in result.stderr
    assert local.ssh("colablink-default", f"test -d {runtime.remote_root}/run1").returncode == 0
    assert (local.project / "run1").is_dir()


def test_token_form_and_two_profiles_coexist_then_forget_one(
    runtime: RuntimeHandle, local: Local
) -> None:
    from colablink_runtime.info import encode_token

    token = encode_token(runtime.info)
    assert local.cli("-p", "a", "init", "-", "--remote-dir", "ra", input=token).returncode == 0
    second = local.cli("init", "--profile", "b", "--remote-dir", "rb", input=token)
    assert second.returncode == 0, second.stderr
    assert "also uses" not in second.stderr, "same project: no shared-root warning"
    assert local.ssh("colablink-a").returncode == 0
    assert local.ssh("colablink-b").returncode == 0
    blob_a = keys.key_blob(keys.public_line(local.config_dir / "keys" / "a")).split()[1]
    assert blob_a in remote_authorized_keys(runtime.username)

    forgot = local.cli("--profile", "a", "disconnect", "--forget")
    assert forgot.returncode == 0, forgot.stderr
    assert blob_a not in remote_authorized_keys(runtime.username)
    assert not (local.config_dir / "keys" / "a").exists()
    assert not (local.config_dir / "profiles" / "a.json").exists()
    assert "colablink-a" not in local.ssh_config.read_text()
    assert "colablink-a " not in (local.config_dir / "known_hosts").read_text()
    assert local.ssh("colablink-a").returncode != 0
    assert local.ssh("colablink-b").returncode == 0


def test_reinit_with_new_runtime_updates_in_place(
    runtime: RuntimeHandle, runtime_factory, local: Local
) -> None:
    assert local.cli("init", "--remote-dir", "keep", input=json.dumps(runtime.info)).returncode == 0
    # A restarted runtime: new address, new host keys (runtimes keep host keys per user).
    restarted = runtime_factory()
    assert restarted.port != runtime.port
    assert set(restarted.host_keys).isdisjoint(runtime.host_keys)
    result = local.cli("init", input=json.dumps(restarted.info))
    assert result.returncode == 0, result.stderr
    profile = json.loads((local.config_dir / "profiles" / "default.json").read_text())
    assert profile["port"] == restarted.port
    assert profile["remote_dir"] == "keep", "dirs kept when not given again"
    assert len(re.findall(r"^default ", local.cli("profiles").stdout, re.M)) == 1
    pinned = (local.config_dir / "known_hosts").read_text().splitlines()
    assert sorted(pinned) == sorted(f"colablink-default {key}" for key in restarted.host_keys)
    assert local.ssh_config.read_text().count("Host colablink-default\n") == 1
    assert local.ssh("colablink-default").returncode == 0


def test_replaced_host_key_is_refused_and_nothing_changes(
    runtime: RuntimeHandle, runtime_factory, local: Local
) -> None:
    assert local.cli("init", input=json.dumps(runtime.info)).returncode == 0
    before = local.files()
    authorized_before = remote_authorized_keys(runtime.username)
    # Another sshd, with other host keys, now answers at the address: a replaced host key.
    impostor = runtime_factory()
    moved = dict(runtime.info, port=impostor.port)
    result = local.cli("init", input=json.dumps(moved))
    assert_one_sentence_error(result, "host key")
    assert "nothing was sent" in result.stderr
    assert local.files() == before
    assert remote_authorized_keys(runtime.username) == authorized_before
    assert remote_authorized_keys(impostor.username) == ""
    assert local.ssh("colablink-default").returncode == 0


def test_forget_when_the_runtime_is_gone_still_cleans_up_locally(
    runtime: RuntimeHandle, local: Local
) -> None:
    assert local.cli("init", input=json.dumps(runtime.info)).returncode == 0
    profile_file = local.config_dir / "profiles" / "default.json"
    profile = json.loads(profile_file.read_text())
    profile["port"] = free_port()
    profile_file.write_text(json.dumps(profile))
    result = local.cli("disconnect", "--forget")
    assert result.returncode == 0, result.stderr
    assert not profile_file.exists()
    assert not (local.config_dir / "keys" / "default").exists()
    assert "colablink-default" not in local.ssh_config.read_text()
    assert "colablink-default" not in (local.config_dir / "known_hosts").read_text()


def test_wrong_password_bad_json_unreachable_write_nothing(
    runtime: RuntimeHandle, local: Local
) -> None:
    wrong = dict(runtime.info, password="not-the-password")
    assert_one_sentence_error(local.cli("init", input=json.dumps(wrong)), "refused the password")
    assert_one_sentence_error(local.cli("init", input='{"host": "x", '), "not valid")
    gone = dict(runtime.info, port=free_port())
    assert_one_sentence_error(local.cli("init", input=json.dumps(gone)), "Cannot connect")
    assert_one_sentence_error(local.cli("--profile", "nope", "exec", "true"), "no profile")
    assert_one_sentence_error(local.cli("exec", "true"), "colablink init")
    assert local.files() == {}
    assert list(local.project.iterdir()) == []
    assert runtime.password and runtime.password not in remote_authorized_keys(runtime.username)


def test_failure_after_remote_steps_is_rolled_back(runtime: RuntimeHandle, local: Local) -> None:
    authorized_before = remote_authorized_keys(runtime.username)
    (local.project / "taken").write_text("a file where the local dir should go")
    result = local.cli("init", "--local-dir", "taken/out", input=json.dumps(runtime.info))
    assert_one_sentence_error(result, "Cannot create the local directory")
    assert remote_authorized_keys(runtime.username) == authorized_before
    assert not list(Path(runtime.remote_root).glob("connection_*"))
    assert local.files() == {}


def test_damaged_ssh_config_stops_init_before_anything(
    runtime: RuntimeHandle, local: Local
) -> None:
    local.ssh_config.parent.mkdir()
    text = "Host x\n# >>> ColabLink profile default >>>\nHost colablink-default\n"
    local.ssh_config.write_text(text)
    result = local.cli("init", input=json.dumps(runtime.info))
    assert_one_sentence_error(result, "nothing closes it")
    assert local.ssh_config.read_text() == text
    assert not local.config_dir.exists()


def test_different_projects_on_one_root_get_a_warning(runtime: RuntimeHandle, local: Local) -> None:
    other = local.base / "other project"
    other.mkdir()
    assert local.cli("-p", "one", "init", input=json.dumps(runtime.info)).returncode == 0
    result = local.cli("-p", "two", "init", input=json.dumps(runtime.info), cwd=other)
    assert result.returncode == 0, result.stderr
    assert "warning: profile 'one'" in result.stderr
    assert "own remote root" in result.stderr
