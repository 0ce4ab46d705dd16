"""Ctrl+C on `upload` and `download` cancels for real, with and without `colablink watch` up.

The transfers go through a slowed link (``DelayProxy``) and are large sparse files, so each is
caught mid-way: the real CLI process gets SIGINT, must exit within ``EXIT_S``, and leave no
temporary on either side and the destination as it was. A cancelled upload must not land later,
over a newer upload to the same path (the daemon once kept going after its client left).
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from colablink.local.profiles import ProfileStore
from support.system import wait_for

from bench.delay_proxy import DelayProxy

from .conftest import Setup, drain, end, make_profile

SLOW = "slow"
# The contract is 1 s; this box is shared by several test runs, so allow for its load.
EXIT_S = 2.0
BIG = 4 << 30  # sparse: nothing of it is on disk, and it cannot finish within a test


@pytest.fixture(scope="module")
def slow(live: Setup) -> Iterator[DelayProxy]:
    """A profile whose link to the module's runtime has 20 ms of round trip."""
    with DelayProxy(live.runtime.host, live.runtime.port, delay=0.01) as proxy:
        base = Path(live.env["COLABLINK_CONFIG_DIR"]).parent
        ProfileStore().save(make_profile(live.runtime, base, name=SLOW, port=proxy.port))
        yield proxy


@pytest.fixture(params=["direct", "agent", "agent-killed"])
def how(request: pytest.FixtureRequest, live: Setup, slow: DelayProxy) -> Iterator[str]:
    """Without a daemon, with one (Ctrl+C), and with one whose client is killed outright."""
    if request.param == "direct":
        yield request.param
        return
    process = live.spawn("--profile", SLOW, "watch", "--no-sync")
    try:
        assert process.stdout is not None
        assert b"is up" in process.stdout.readline(), "the agent did not start"
        drain(process)
        yield request.param
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


def as_runtime_user(live: Setup, path: Path) -> None:
    account = pwd.getpwnam(live.runtime.username)
    os.chown(path, account.pw_uid, account.pw_gid)


def temps(directory: Path, prefix: str) -> list[Path]:
    return sorted(directory.glob(f"{prefix}*"))


def partial(directory: Path, prefix: str) -> bool:
    """Whether a transfer's temporary there already holds a few MiB: it is under way."""
    return any(
        (tmp / "x").exists() and (tmp / "x").stat().st_size > (4 << 20)
        for tmp in temps(directory, prefix)
    )


def remote_tars(live: Setup) -> bool:
    found = subprocess.run(["pgrep", "-u", live.runtime.username, "-x", "tar"], check=False,
                           capture_output=True)  # fmt: skip
    return found.returncode == 0


def interrupt(live: Setup, process: subprocess.Popen[bytes], how: str) -> float:
    """Ctrl+C (or, for ``agent-killed``, SIGKILL) the CLI; seconds until it exited."""
    started = time.monotonic()
    process.send_signal(signal.SIGKILL if how == "agent-killed" else signal.SIGINT)
    try:
        process.wait(timeout=10)
    finally:
        end(process)
    elapsed = time.monotonic() - started
    print(f"{how}: exited {elapsed:.2f} s after the signal")
    if how != "agent-killed":
        assert process.stderr is not None
        err = process.stderr.read()
        assert process.returncode == 130, err
        assert b"cancelled" in err and b"Traceback" not in err, err
    return elapsed


def test_a_cancelled_upload_leaves_nothing_and_never_lands(
    live: Setup, how: str, tmp_path: Path
) -> None:
    remote_root = Path(live.profile.remote_root)
    dest = remote_root / f"up-{how}.bin"
    dest.write_text("old")
    as_runtime_user(live, dest)
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        f.truncate(BIG)

    process = live.spawn("--profile", SLOW, "upload", str(big), dest.name)
    try:
        wait_for(lambda: partial(remote_root, ".colablink-up."), 30, "the upload to be under way")
    finally:
        elapsed = interrupt(live, process, how)
    if how != "agent-killed":
        assert elapsed < EXIT_S
    # The cancel waited for the runtime's word that its temp is gone (a killed client cannot).
    wait_for(lambda: not temps(remote_root, ".colablink-up."), EXIT_S, "the remote temp to go")
    assert dest.read_text() == "old"

    newer = tmp_path / "newer.bin"
    newer.write_text("newer")
    done = live.cli("--profile", SLOW, "upload", str(newer), dest.name)
    assert done.returncode == 0, done.stderr
    wait_for(lambda: not remote_tars(live), 5, "every remote tar to end")
    assert dest.read_text() == "newer"
    assert not temps(remote_root, ".colablink-up.")


def test_a_cancelled_download_leaves_nothing(live: Setup, how: str, tmp_path: Path) -> None:
    source = Path(live.profile.remote_root) / f"down-{how}.bin"
    with source.open("wb") as f:
        f.truncate(BIG)
    as_runtime_user(live, source)
    here = tmp_path / "here"
    here.mkdir()
    (here / source.name).write_text("old")

    process = live.spawn("--profile", SLOW, "download", source.name, f"{here}/")
    try:
        wait_for(lambda: partial(here, ".colablink-down."), 30, "the download to be under way")
    finally:
        elapsed = interrupt(live, process, how)
    if how != "agent-killed":
        assert elapsed < EXIT_S
        assert not temps(here, ".colablink-down.")
    else:
        # The daemon notices its client left and cancels on its own.
        wait_for(lambda: not temps(here, ".colablink-down."), EXIT_S, "the local temp to go")
    assert (here / source.name).read_text() == "old"
    wait_for(lambda: not remote_tars(live), EXIT_S, "the remote tar to end")
    source.unlink()
