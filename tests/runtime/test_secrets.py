"""Neither the password nor the ngrok token ever appears in a command line during setup."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from colablink_runtime import procs
from support import RuntimeHandle, public_tempdir

from .sshclient import login_with_password
from .test_ngrok import STAND_IN

# Audit hooks cannot be removed, so one hook feeds whichever recorder is active.
_recorders: list[list[list[str]]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _recorders:
        return
    argv: Sequence[Any] | None = None
    if event == "subprocess.Popen" or event in ("os.exec", "os.posix_spawn"):
        argv = args[1]
    elif event == "os.system":
        argv = [args[0]]
    if argv is not None:
        words = [argv] if isinstance(argv, (str, bytes)) else list(argv)
        _recorders[-1].append([w.decode() if isinstance(w, bytes) else str(w) for w in words])


sys.addaudithook(_audit)


@contextmanager
def watch_command_lines() -> Iterator[tuple[list[list[str]], list[str]]]:
    """Yield (argvs this process started, command lines seen in /proc meanwhile)."""
    started: list[list[str]] = []
    seen: list[str] = []
    stop = threading.Event()

    def scan() -> None:
        while not stop.is_set():
            for pid in procs.all_pids():
                line = "\0".join(procs.cmdline_of(pid))
                if line:
                    seen.append(line)
            stop.wait(0.002)

    scanner = threading.Thread(target=scan, daemon=True)
    _recorders.append(started)
    scanner.start()
    try:
        yield started, seen
    finally:
        stop.set()
        scanner.join()
        _recorders.remove(started)


def test_no_secret_on_any_command_line(
    runtime_factory: Callable[..., RuntimeHandle], monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "pw-Secret'\"$(x)-7Qz"
    token = "tok-Secret-ngrok-4Kb9"
    work = public_tempdir("colablink-secret-")
    (work / "ngrok").symlink_to(STAND_IN)
    monkeypatch.setenv("PATH", f"{work}:/usr/local/bin:/usr/bin:/bin")
    monkeypatch.setenv("NGROK_STAND_IN_RECORD", str(work / "argv.jsonl"))

    with watch_command_lines() as (started, seen):
        handle = runtime_factory(password=password, ngrok_token=token, tunnel="ngrok")

    names = {Path(argv[0]).name for argv in started}
    # The watchers really saw the tools that handle the secrets.
    assert {"useradd", "chpasswd", "ssh-keygen", "sshd", "ngrok"} <= names, names
    assert any("sshd" in line for line in seen) and len(seen) > 100
    for argv in started:
        assert not any(password in word or token in word for word in argv), argv
    for line in seen:
        assert password not in line and token not in line, line
    # The password with quotes and $( ) was set exactly, not through a shell.
    login_with_password(handle.port, handle.username, password).close()
    handle.close()
    for leftover in work.iterdir():
        leftover.unlink()
    work.rmdir()
