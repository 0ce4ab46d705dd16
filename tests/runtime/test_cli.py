"""``colablink runtime`` as a user runs it: self-check, serving until Ctrl+C, and its errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from colablink_runtime import accounts, procs
from colablink_runtime.info import decode_token
from support import (
    create_account,
    foreign_pythonpath,
    free_port,
    pids_of_user,
    public_tempdir,
    remove_account,
    run_as,
    unique_name,
)

from .sshclient import login_with_password
from .test_ngrok import STAND_IN

COLABLINK = [sys.executable, "-m", "colablink"]


def _json_and_token(stdout: str) -> tuple[dict[str, object], str]:
    text, _, rest = stdout.partition("\n\n")
    token = next(line for line in rest.splitlines() if line.startswith("clk1."))
    return json.loads(text), token


def _check_printed(stdout: str) -> dict[str, object]:
    info, token = _json_and_token(stdout)
    assert decode_token(token) == info
    assert "colablink init" in stdout
    password = info["password"]
    if password:
        # The password appears only as the JSON field: never inside a command to copy.
        carrying = [line for line in stdout.splitlines() if str(password) in line]
        assert carrying == [f'  "password": "{password}",']
    return info


def test_self_check_as_root_exits_0_and_removes_what_it_made() -> None:
    result = subprocess.run(
        [*COLABLINK, "runtime", "--tunnel", "none", "--self-check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    info = _check_printed(result.stdout)
    assert "Self-check passed" in result.stdout
    assert not accounts.exists(str(info["username"]))
    assert not Path(f"/home/{info['username']}").exists()
    assert not Path(f"/var/lib/colablink-runtime/{info['username']}").exists()
    assert not Path(str(info["remote_root"])).exists()
    assert procs.port_is_free(int(str(info["port"])))


def test_self_check_in_user_mode_as_unprivileged_account() -> None:
    account = create_account("cltu")
    try:
        result = run_as(
            account,
            ["/usr/bin/python3", "-m", "colablink", "runtime", "--tunnel", "none", "--self-check"],
            {"PYTHONPATH": foreign_pythonpath()},
            timeout=120,
        )
        stdout = result.stdout.decode()
        assert result.returncode == 0, result.stderr.decode()
        info = _check_printed(stdout)
        assert info["password"] is None and info["username"] == account
        home = Path(f"/home/{account}")
        assert not (home / ".local" / "state").exists()
        assert pids_of_user(account) == []
    finally:
        remove_account(account)


def test_serves_until_ctrl_c_then_tears_down() -> None:
    username = unique_name("clt")
    work = public_tempdir("colablink-cli-")
    port = free_port()
    proc = subprocess.Popen(
        [
            *COLABLINK,
            *("runtime", "--tunnel", "none", "--port", str(port), "--username", username),
            *("--remote-root", str(work / "root")),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Keeping the runtime alive"):
                break
        info = _check_printed("".join(lines))
        assert info["port"] == port and info["username"] == username
        login_with_password(port, username, str(info["password"])).close()
        os.kill(proc.pid, signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        assert "Keep-alive stopped" in rest
        assert procs.port_is_free(port)
        assert pids_of_user(username) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        remove_account(username)
        shutil.rmtree(f"/var/lib/colablink-runtime/{username}", ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


def test_setup_error_is_one_sentence_without_traceback() -> None:
    result = subprocess.run(
        [*COLABLINK, "runtime", "--tunnel", "none", "--username", "root"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("colablink: 'root' cannot be the login user;")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_missing_ngrok_token_is_one_sentence() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NGROK_AUTHTOKEN"}
    result = subprocess.run(
        [*COLABLINK, "runtime", "--tunnel", "ngrok"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "colablink: The ngrok tunnel needs a token: set NGROK_AUTHTOKEN, or use --tunnel none.\n"
    )


def test_self_check_through_the_ngrok_provider() -> None:
    work = public_tempdir("colablink-cli-ngrok-")
    (work / "ngrok").symlink_to(STAND_IN)
    env = {
        **os.environ,
        "PATH": f"{work}:{os.environ['PATH']}",
        "NGROK_AUTHTOKEN": "tok-from-env",
        "NGROK_STAND_IN_RECORD": str(work / "argv.jsonl"),
        # As on Colab, where ngrok-over-sshd goes against the terms: one warning line.
        "COLAB_RELEASE_TAG": "release-colab-test",
    }
    try:
        result = subprocess.run(
            [*COLABLINK, "runtime", "--tunnel", "ngrok", "--self-check"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        info = _check_printed(result.stdout)
        assert (info["host"], info["port"]) == ("4.tcp.eu.ngrok.io", 17023)
        assert "tok-from-env" not in (work / "argv.jsonl").read_text()
        assert result.stderr.count("warning: Colab's terms") == 1
    finally:
        shutil.rmtree(work)
