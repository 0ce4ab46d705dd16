"""Installing sshd with apt-get when it is missing, against a stand-in apt-get."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from colablink_runtime import accounts, sshd
from colablink_runtime.errors import RuntimeSetupError
from colablink_runtime.runtime import ColabRuntime
from support import public_tempdir, unique_name

STAND_IN = """#!/bin/sh
echo "$DEBIAN_FRONTEND $*" >> "{record}"
if [ -n "{fail}" ] && [ "$1" = install ]; then
  echo "E: Unable to locate package openssh-server" >&2
  exit 100
fi
exit 0
"""


@pytest.fixture
def apt_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    directory = public_tempdir("colablink-apt-")
    monkeypatch.setenv("PATH", f"{directory}:/usr/local/bin:/usr/bin:/bin")
    yield directory
    shutil.rmtree(directory)


def _install_stand_in(directory: Path, fail: bool) -> Path:
    record = directory / "calls"
    apt = directory / "apt-get"
    apt.write_text(STAND_IN.format(record=record, fail="yes" if fail else ""))
    apt.chmod(0o755)
    return record


def test_present_sshd_needs_no_apt(apt_dir: Path) -> None:
    record = _install_stand_in(apt_dir, fail=False)
    assert sshd.ensure_sshd() == sshd.SSHD_PATH
    assert not record.exists()


def test_apt_get_runs_and_a_still_missing_sshd_is_reported(apt_dir: Path) -> None:
    record = _install_stand_in(apt_dir, fail=False)
    missing = apt_dir / "no-such-sshd"
    with pytest.raises(RuntimeSetupError) as caught:
        sshd.ensure_sshd(missing)
    assert record.read_text().splitlines() == [
        "noninteractive update -qq",
        "noninteractive install -y -qq openssh-server",
    ]
    assert caught.value.message == (
        f"apt-get installed openssh-server but {missing} is still missing; "
        "install OpenSSH's server by hand and run again."
    )


def test_apt_get_failure_is_one_clear_sentence(apt_dir: Path) -> None:
    _install_stand_in(apt_dir, fail=True)
    with pytest.raises(RuntimeSetupError) as caught:
        sshd.ensure_sshd(apt_dir / "no-such-sshd")
    assert caught.value.message == (
        "Installing openssh-server with apt-get failed (E: Unable to locate package "
        "openssh-server); install it by hand and run again."
    )


def test_setup_takes_the_apt_path_when_sshd_is_missing(
    apt_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = _install_stand_in(apt_dir, fail=True)
    monkeypatch.setattr(sshd, "SSHD_PATH", apt_dir / "no-such-sshd")
    runtime = ColabRuntime(
        username=unique_name("clt"), remote_root=str(apt_dir / "work"), port=2, tunnel="none"
    )
    with pytest.raises(RuntimeSetupError, match=r"^Installing openssh-server with apt-get failed"):
        runtime.setup()
    assert "install -y -qq openssh-server" in record.read_text()
    # Nothing was created before sshd was known to exist.
    assert not accounts.exists(runtime.username)
