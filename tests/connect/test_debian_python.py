"""The CLI on Debian 12's own python3 (3.11.2: no tarfile filters at all), as a laptop runs it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Setup

REPO = Path(__file__).resolve().parents[2]
DEBIAN_PYTHON = Path("/usr/bin/python3")


@pytest.fixture(scope="module")
def debian_colablink() -> Iterator[Path]:
    """``colablink`` from a venv built on /usr/bin/python3, with this checkout installed."""
    if not DEBIAN_PYTHON.exists():
        pytest.fail("/usr/bin/python3 is missing: scripts/bootstrap.sh --dev installs it")
    base = Path(tempfile.mkdtemp(prefix="clk-debpy-"))
    try:
        venv = base / "venv"
        subprocess.run([str(DEBIAN_PYTHON), "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(REPO)],
            check=True,
            timeout=300,
        )
        yield venv / "bin" / "colablink"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_download_works_on_debians_python(
    live: Setup, debian_colablink: Path, tmp_path: Path
) -> None:
    version = subprocess.run(
        [
            str(debian_colablink.with_name("python")),
            "-c",
            "import sys; print(sys.version_info[:2])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert version.strip() == "(3, 11)"
    made = live.runtime.remote_root + "/dl"
    script = f"mkdir -p {made}/sub && head -c 350000 /dev/zero | tr '\\0' w > {made}/sub/model.pt"
    assert (
        subprocess.run(
            ["su", "-s", "/bin/sh", live.runtime.username, "-c", script], check=False
        ).returncode
        == 0
    ), "the runtime user could not write its files"
    result = subprocess.run(
        [str(debian_colablink), "download", "dl", f"{tmp_path}/"],
        env=live.env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    landed = tmp_path / "dl" / "sub" / "model.pt"
    assert landed.read_bytes() == b"w" * 350_000
