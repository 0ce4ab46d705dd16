"""A root-mode runtime against real clients: who may log in, how, and what they may touch."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

import paramiko
import pytest
from colablink_runtime import accounts, procs
from colablink_runtime.errors import PortInUse
from colablink_runtime.runtime import ColabRuntime
from support import RuntimeHandle, free_port, pids_of_user, public_tempdir, unique_name, wait_for

from .sshclient import login_with_key, login_with_password, run, server_key_line, transport_to


def test_password_login_as_dedicated_user_with_pinned_host_key(runtime: RuntimeHandle) -> None:
    assert runtime.password
    transport = login_with_password(runtime.port, runtime.username, runtime.password)
    try:
        assert server_key_line(transport) in runtime.info["host_keys"]
        code, out, _ = run(transport, "id -un; pwd")
        assert code == 0
        assert out.split() == [runtime.username, f"/home/{runtime.username}"]
    finally:
        transport.close()


def test_connection_info_fields(runtime: RuntimeHandle) -> None:
    info = runtime.info
    assert info["version"] == 1
    assert info["host"] == "127.0.0.1"
    assert info["port"] == runtime.port
    assert info["username"] == runtime.username
    assert info["remote_root"] == runtime.remote_root
    assert info["gpu"] is None
    assert {key.split()[0] for key in info["host_keys"]} == {"ssh-ed25519", "ecdsa-sha2-nistp256"}


def test_root_refused_even_with_an_accepted_key(runtime: RuntimeHandle) -> None:
    # The same key logs in as the dedicated user, so only PermitRootLogin/AllowUsers stop root.
    login_with_key(runtime.port, runtime.username, runtime.client_key).close()
    with pytest.raises(paramiko.AuthenticationException):
        login_with_key(runtime.port, "root", runtime.client_key)


def test_wrong_password_refused(runtime: RuntimeHandle) -> None:
    assert runtime.password
    with pytest.raises(paramiko.AuthenticationException):
        login_with_password(runtime.port, runtime.username, runtime.password + "x")


def test_user_writes_remote_root_but_not_system_dirs(runtime: RuntimeHandle) -> None:
    transport = login_with_key(runtime.port, runtime.username, runtime.client_key)
    try:
        code, _, _ = run(transport, f"touch {runtime.remote_root}/written")
        assert code == 0
        for directory in ("/etc", "/root", "/usr"):
            code, _, err = run(transport, f"touch {directory}/colablink-probe")
            assert code != 0, f"the runtime user could write to {directory}"
            assert "denied" in err
    finally:
        transport.close()


def test_setup_twice_keeps_serving_with_same_host_keys(runtime: RuntimeHandle) -> None:
    again = runtime.runtime.setup()
    assert again["host_keys"] == runtime.info["host_keys"]
    password = again["password"]
    transport = login_with_password(runtime.port, runtime.username, password)
    transport.close()


def test_teardown_ends_sessions_sshd_and_frees_port(runtime: RuntimeHandle) -> None:
    transport = login_with_key(runtime.port, runtime.username, runtime.client_key)
    channel = transport.open_session()
    channel.exec_command("sleep 300")
    wait_for(lambda: pids_of_user(runtime.username), 10, "the session's processes")
    assert isinstance(runtime.runtime, ColabRuntime)
    state = str(runtime.runtime.config_path)

    runtime.runtime.teardown()

    assert pids_of_user(runtime.username) == []
    ours = [pid for pid in procs.all_pids() if state in procs.cmdline_of(pid)]
    assert ours == []
    assert procs.port_is_free(runtime.port)
    wait_for(lambda: channel.closed or not transport.is_active(), 10, "the session to be cut")
    transport.close()


def test_port_in_use_is_one_sentence() -> None:
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        rt = ColabRuntime(
            username=unique_name("clt"), remote_root=str(public_tempdir()), port=port, tunnel="none"
        )
        try:
            with pytest.raises(PortInUse, match=f"^Port {port} is already in use; [^.]*\\.$"):
                rt.setup()
        finally:
            rt.teardown(remove=True)
            shutil.rmtree(rt.remote_root, ignore_errors=True)
    assert not accounts.exists(rt.username)


def test_heartbeat_counts_sessions(runtime: RuntimeHandle) -> None:
    rt = runtime.runtime
    assert isinstance(rt, ColabRuntime)
    assert "0 SSH sessions" in rt.heartbeat()
    transport = transport_to(runtime.port)
    try:
        wait_for(lambda: "1 SSH session connected" in rt.heartbeat(), 10, "one session")
    finally:
        transport.close()


def test_rerunning_the_cell_with_a_new_runtime_object_takes_over(
    runtime_factory: Callable[..., RuntimeHandle],
) -> None:
    first = runtime_factory()
    second = runtime_factory(username=first.username, remote_root=first.remote_root)
    assert second.info["host_keys"] == first.info["host_keys"]
    assert second.password and second.password != first.password
    assert procs.port_is_free(first.port), "the first sshd should have been replaced"
    login_with_password(second.port, second.username, second.password).close()
    with pytest.raises(paramiko.AuthenticationException):
        login_with_password(second.port, second.username, str(first.password))


def test_teardown_ends_a_detached_process_of_the_user(runtime: RuntimeHandle) -> None:
    transport = login_with_key(runtime.port, runtime.username, runtime.client_key)
    code, _, _ = run(transport, "setsid nohup sleep 300 >/dev/null 2>&1 < /dev/null &")
    transport.close()
    assert code == 0
    wait_for(lambda: pids_of_user(runtime.username), 10, "the detached sleep")
    runtime.runtime.teardown()
    assert pids_of_user(runtime.username) == []


def test_rerun_does_not_follow_symlinks_the_user_planted(runtime: RuntimeHandle) -> None:
    target = public_tempdir() / "root-owned"
    target.write_text("untouched\n")
    transport = login_with_key(runtime.port, runtime.username, runtime.client_key)
    try:
        command = f"ln -sf {target} ~/.colablink_env && ln -sf {target} ~/.profile"
        code, _, err = run(transport, command)
        assert code == 0, err
    finally:
        transport.close()
    runtime.runtime.setup()
    assert target.read_text() == "untouched\n"
    home = Path(f"/home/{runtime.username}")
    assert not (home / ".colablink_env").is_symlink()
    shutil.rmtree(target.parent)


def test_setup_and_teardown_are_quick(runtime_factory: Callable[..., RuntimeHandle]) -> None:
    started = time.monotonic()
    handle = runtime_factory()
    setup_s = time.monotonic() - started
    started = time.monotonic()
    handle.runtime.teardown()
    teardown_s = time.monotonic() - started
    print(f"root-mode setup {setup_s:.3f} s (new user, keys, sshd), teardown {teardown_s:.3f} s")
    assert setup_s < 30 and teardown_s < 15


def test_tearing_down_one_runtime_leaves_another_beside_it_serving(
    runtime_factory: Callable[..., RuntimeHandle],
) -> None:
    # Both state dirs under a parent neither found: the first one's teardown once removed the
    # parent it had made, taking the second's host keys and log from under its running sshd.
    parent = Path("/var/lib") / unique_name("clt-shared-")
    try:
        first = runtime_factory(state_dir=parent / "first")
        second = runtime_factory(state_dir=parent / "second")
        first.runtime.teardown(remove=True)
        assert sorted(p.name for p in parent.iterdir()) == ["second"]
        transport = login_with_key(second.port, second.username, second.client_key)
        try:
            assert run(transport, "echo still here")[:2] == (0, "still here\n")
        finally:
            transport.close()
        second.runtime.teardown(remove=True)
        assert list(parent.iterdir()) == []
    finally:
        shutil.rmtree(parent, ignore_errors=True)
