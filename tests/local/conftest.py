"""A private config dir, ssh config and project for running ``colablink`` as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Local:
    base: Path
    env: dict[str, str]
    project: Path

    @property
    def config_dir(self) -> Path:
        return Path(self.env["COLABLINK_CONFIG_DIR"])

    @property
    def ssh_escaped_config_dir(self) -> str:
        """The config dir as the ssh config spells it (the test path holds a literal %)."""
        return str(self.config_dir).replace("%", "%%")

    @property
    def ssh_config(self) -> Path:
        return Path(self.env["COLABLINK_SSH_CONFIG"])

    def cli(
        self, *args: str, input: str | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "colablink", *args],
            env=self.env,
            cwd=cwd or self.project,
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def ssh(self, alias: str, command: str = "true") -> subprocess.CompletedProcess[str]:
        """The real OpenSSH client through the written config; never prompts."""
        return subprocess.run(
            ["ssh", "-F", str(self.ssh_config), "-o", "BatchMode=yes", alias, command],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def files(self) -> dict[str, bytes]:
        """Every file ColabLink could have written locally, by path."""
        found = {}
        for root in (self.config_dir, self.ssh_config.parent):
            if root.exists():
                for path in root.rglob("*"):
                    if path.is_file():
                        found[str(path)] = path.read_bytes()
        return found


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Local]:
    project = tmp_path / "project"
    project.mkdir()
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "COLABLINK_CONFIG_DIR": str(tmp_path / "config dir 100%"),
        "COLABLINK_RUNTIME_DIR": str(tmp_path / "run"),
        "COLABLINK_SSH_CONFIG": str(tmp_path / "dot ssh" / "config"),
    }
    yield Local(tmp_path, env, project)
