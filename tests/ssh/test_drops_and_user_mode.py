"""A dropped connection is reported, not waited on; user-mode runtimes (keys only, own sshd)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from colablink.errors import Unreachable
from colablink.ssh import remote_exec, transfer
from colablink.ssh.session import ConnectionLost, Session
from support.runtimes import RuntimeHandle

from bench.delay_proxy import DelayProxy

from .targets import cancel_after, key_target


def test_a_cut_connection_ends_a_running_command_with_connection_lost(
    runtime: RuntimeHandle,
) -> None:
    with DelayProxy(runtime.host, runtime.port, delay=0.001) as proxy:
        session = Session.connect(key_target(runtime, port=proxy.port))
        errors: list[BaseException] = []

        def run() -> None:
            try:
                remote_exec.stream(
                    session, "sleep 100", on_stdout=lambda _: None, on_stderr=lambda _: None
                )
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        time.sleep(0.3)
        start = time.monotonic()
        proxy.cut()
        thread.join(5)
        assert not thread.is_alive() and time.monotonic() - start < 2
        assert len(errors) == 1 and isinstance(errors[0], ConnectionLost)
        assert not session.is_active()
        with pytest.raises(ConnectionLost):
            session.run(["true"])
        session.close()


@pytest.mark.parametrize("nbytes", [10, 1500, 3000])
def test_a_cut_during_the_handshake_is_unreachable(runtime: RuntimeHandle, nbytes: int) -> None:
    with (
        DelayProxy(runtime.host, runtime.port, delay=0.001, cut_after=nbytes) as proxy,
        pytest.raises(Unreachable),
    ):
        Session.connect(key_target(runtime, port=proxy.port), timeout=5)


def test_user_mode_runtime_exec_cancel_and_transfer(
    user_runtime: RuntimeHandle, tmp_path: Path
) -> None:
    with Session.connect(key_target(user_runtime)) as session:
        assert session.run("kill -9 $$").exit_code == 137
        cancel = cancel_after(0.3)
        start = time.monotonic()
        code = remote_exec.stream(
            session,
            remote_exec.command_line(["sleep", "100"]),
            on_stdout=lambda _: None,
            on_stderr=lambda _: None,
            cancel=cancel,
        )
        assert code == 130 and time.monotonic() - start < 2.3
        (tmp_path / "d").mkdir()
        (tmp_path / "d" / "ü.bin").write_bytes(bytes(range(256)) * 999)
        transfer.upload(session, tmp_path / "d", "d", root=user_runtime.remote_root)
        back = transfer.download(session, "d", tmp_path / "back", root=user_runtime.remote_root)
        assert (back / "ü.bin").read_bytes() == bytes(range(256)) * 999


def test_a_cut_transfer_leaves_nothing_half_written(
    runtime: RuntimeHandle, session: Session, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 40_000)  # 10 MB
    transfer.upload(session, big, "complete.bin", root=runtime.remote_root)
    with DelayProxy(runtime.host, runtime.port, delay=0.001) as proxy:
        cut = Session.connect(key_target(runtime, port=proxy.port))
        proxy.cut_after(3_000_000)
        with pytest.raises(ConnectionLost):
            transfer.upload(cut, big, "partial.bin", root=runtime.remote_root)
        cut.close()
        cut = Session.connect(key_target(runtime, port=proxy.port))
        proxy.cut_after(3_000_000)
        with pytest.raises(ConnectionLost):
            transfer.download(cut, "complete.bin", tmp_path / "down.bin", root=runtime.remote_root)
        cut.close()

    def leftovers() -> list[str]:
        return session.run(["ls", "-A", runtime.remote_root]).stdout.decode().split()

    deadline = time.monotonic() + 5
    while leftovers() != ["complete.bin"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers() == ["complete.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin"]


def test_ping_measures_the_round_trip_and_notices_a_silent_tunnel(runtime: RuntimeHandle) -> None:
    with DelayProxy(runtime.host, runtime.port, delay=0.02) as proxy:
        session = Session.connect(key_target(runtime, port=proxy.port))
        rtt = min(session.ping() for _ in range(3))
        assert 0.040 <= rtt < 0.080
        proxy.stall()
        start = time.monotonic()
        with pytest.raises(ConnectionLost, match="did not answer within 1 s"):
            session.ping(timeout=1.0)
        assert time.monotonic() - start < 1.5
        assert not session.is_active()
