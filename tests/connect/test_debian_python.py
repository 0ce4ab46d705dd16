"""Downloads on Debian 12's own ``python3`` (3.11.2), whose tarfile has no extraction filters."""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Setup

DEBIAN_PYTHON = Path("/usr/bin/python3")


@pytest.fixture(scope="module")
def debian_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv on Debian's interpreter that sees this checkout and its installed dependencies.

    The dependencies are the test venv's (same 3.11 ABI) through a ``.pth``, so the venv costs
    a second instead of a minute of resolving; the standard library, tarfile included, is
    Debian's.
    """
    if not DEBIAN_PYTHON.exists():
        pytest.fail("Debian's /usr/bin/python3 is missing (scripts/bootstrap.sh installs it)")
    venv = tmp_path_factory.mktemp("debian-venv")
    subprocess.run([str(DEBIAN_PYTHON), "-m", "venv", "--without-pip", str(venv)], check=True)
    (purelib,) = Path(venv).glob("lib/python3*/site-packages")
    # addsitedir, not a plain path: the checkout's editable install is itself a .pth there.
    dirs = ", ".join(repr(d) for d in site.getsitepackages())
    (purelib / "colablink-test-deps.pth").write_text(
        f"import site; list(map(site.addsitedir, ({dirs},)))\n"
    )
    yield venv / "bin" / "python"
    shutil.rmtree(venv, ignore_errors=True)


def test_download_works_on_debian_python(live: Setup, debian_python: Path, tmp_path: Path) -> None:
    probe = subprocess.run(
        [
            str(debian_python),
            "-c",
            "import sys, tarfile; print(sys.version_info[:3], "
            "hasattr(tarfile, 'FilterError'), sys.prefix != sys.base_prefix)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.split(") ")[1].split() == ["False", "True"], probe.stdout
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.txt").write_text("hello\n")
    (src / "b.bin").write_bytes(bytes(range(256)) * 50)
    assert live.cli("upload", str(src), "debian-tree").returncode == 0
    down = subprocess.run(
        [str(debian_python), "-m", "colablink", "download", "debian-tree", str(tmp_path / "back")],
        env=live.env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert down.returncode == 0, down.stderr.decode()
    assert (tmp_path / "back" / "sub" / "a.txt").read_text() == "hello\n"
    assert (tmp_path / "back" / "b.bin").read_bytes() == bytes(range(256)) * 50
    assert sys.version_info[:2] >= (3, 10)
