"""The real ``colablink watch`` as a subprocess, with its own config, runtime dir and project."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from support import wait_for

PROFILE = "gpu"


@dataclass
class Local:
    base: Path
    env: dict[str, str]
    project: Path

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "colablink", "--profile", PROFILE, *args],
            env=self.env,
            cwd=self.project,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def profile(self) -> dict[str, str]:
        data: dict[str, str] = json.loads(
            (self.base / "config" / "profiles" / f"{PROFILE}.json").read_text()
        )
        return data


class Watch:
    """``colablink watch`` as a subprocess, its reports kept for failure messages."""

    def __init__(self, local: Local) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "colablink", "--profile", PROFILE, "watch"],
            env=local.env,
            cwd=local.project,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def wait(self, predicate: Callable[[], object], timeout: float, what: str) -> None:
        """``wait_for``, with what watch reported by then in the failure."""
        try:
            wait_for(predicate, timeout, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; watch said:\n" + "\n".join(self.lines[-40:])) from None

    def interrupt(self) -> int:
        """Ctrl+C, as a user stops it; the exit code."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=30)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
