"""Sessions dialled through a ProxyCommand: same session, the command ended with the session."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest
from colablink.errors import Unreachable
from colablink.ssh.session import Session
from colablink.ssh.sshd_channel import ForwardingRefused, open_to_sshd, sshd_address
from colablink.ssh.transport import ProxyCommand
from support import wait_for
from support.runtimes import RuntimeHandle

from .targets import key_target

BRIDGE = Path(__file__).resolve().parents[1] / "support" / "stdio_bridge.py"


def bridge_in(tmp_path: Path, rt: RuntimeHandle, *extra: str) -> tuple[ProxyCommand, Path]:
    """The bridge copied under a path OpenSSH and a shell could both misread."""
    where = tmp_path / "bin 50% $HOME"
    where.mkdir()
    script = where / "bridge.py"
    shutil.copy(BRIDGE, script)
    pidfile = tmp_path / "bridge.pid"
    argv = (sys.executable, str(script), rt.host, str(rt.port), str(pidfile), *extra)
    return ProxyCommand(argv), pidfile


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_session_through_a_proxy_command_and_sighup_ends_it(
    runtime: RuntimeHandle, tmp_path: Path
) -> None:
    # "hold": the bridge ignores stdin EOF, so only our SIGHUP can end it quickly.
    proxy, pidfile = bridge_in(tmp_path, runtime, "hold")
    session = Session.connect(key_target(runtime, transport=proxy))
    try:
        result = session.run(["sh", "-c", 'echo "$SSH_CONNECTION"'])
        assert result.exit_code == 0
        # sshd saw the bridge's TCP connection on its own port, not ours.
        assert result.stdout.split()[-1] == str(runtime.port).encode()
        pid = int(pidfile.read_text())
        assert alive(pid)
    finally:
        started = time.monotonic()
        session.close()
    # Closing waits for the command; a SIGHUP it ignored would cost the 2 s grace, then a KILL.
    assert time.monotonic() - started < 1.0
    assert not alive(pid)


def test_a_failing_proxy_command_says_why(runtime: RuntimeHandle, tmp_path: Path) -> None:
    said = ProxyCommand(
        (sys.executable, "-c", "import sys; sys.exit('Error: HTTP 502, sshd unreachable')")
    )
    with pytest.raises(Unreachable, match="HTTP 502, sshd unreachable"):
        Session.connect(key_target(runtime, transport=said), timeout=5)
    missing = ProxyCommand((str(tmp_path / "no-such-bridge"),))
    with pytest.raises(Unreachable, match=r"Cannot start the ProxyCommand .*no-such-bridge"):
        Session.connect(key_target(runtime, transport=missing), timeout=5)


def test_a_channel_to_sshd_itself_and_a_refusal_in_one_sentence(runtime: RuntimeHandle) -> None:
    with Session.connect(key_target(runtime)) as session:
        address = sshd_address(session)
        assert address == (runtime.host, runtime.port)
        channel = open_to_sshd(session, address)
        assert channel.recv(64).startswith(b"SSH-2.0-")
        channel.close()
    config = runtime.state_dir / "sshd_config"
    text = config.read_text()
    assert "AllowTcpForwarding yes" in text
    config.write_text(text.replace("AllowTcpForwarding yes", "AllowTcpForwarding no"))
    # sshd re-executes itself with the new config on SIGHUP and keeps its port.
    os.kill(int((runtime.state_dir / "sshd.pid").read_text()), signal.SIGHUP)
    # A connection accepted before the re-exec still forwards: retry until the new config answers.
    refusal = wait_for(lambda: _refusal(runtime), timeout=10, what="sshd to refuse forwarding")
    assert "refuses port forwarding" in refusal


def _refusal(runtime: RuntimeHandle) -> str | None:
    try:
        with Session.connect(key_target(runtime), timeout=2) as session:
            open_to_sshd(session, sshd_address(session)).close()
    except ForwardingRefused as exc:
        return str(exc)
    except Unreachable:
        pass
    return None
