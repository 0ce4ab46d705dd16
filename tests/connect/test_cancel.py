"""Ctrl+C on `upload` and `download` cancels for real, with and without `colablink watch` up.

The transfers go through a slowed link (``DelayProxy``) and are large sparse files, so each is
caught mid-way: the real CLI process gets SIGINT, must exit within ``EXIT_S``, and leave no
temporary on either side and the destination as it was. A cancelled upload must not land later,
over a newer upload to the same path (the daemon once kept going after its client left).
SIGTERM and SIGHUP stop a transfer as Ctrl+C does; a CLI killed outright leaves no remote temp;
a Ctrl+C that comes after the commit line reports the landing, not a cancel.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from colablink.local.profiles import ProfileStore
from support.system import wait_for

from bench.delay_proxy import DelayProxy

from .conftest import Setup, drain, end, make_profile, remote_sleeps

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


def interrupt(
    live: Setup, process: subprocess.Popen[bytes], how: str, signum: int = signal.SIGINT
) -> float:
    """Ctrl+C, or ``signum`` (for ``agent-killed``, SIGKILL) to the CLI; seconds until it exited."""
    started = time.monotonic()
    process.send_signal(signal.SIGKILL if how == "agent-killed" else signum)
    try:
        process.wait(timeout=10)
    finally:
        end(process)
    elapsed = time.monotonic() - started
    print(f"{how}: exited {elapsed:.2f} s after the signal")
    if how != "agent-killed":
        assert process.stderr is not None
        err = process.stderr.read()
        assert process.returncode == 128 + signum, err
        assert len(err.decode().strip().splitlines()) == 1, err
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


@pytest.mark.parametrize(
    ("how", "verb", "signum"),
    [
        ("direct", "upload", signal.SIGTERM),
        ("direct", "download", signal.SIGTERM),
        ("direct", "upload", signal.SIGHUP),
        ("direct", "download", signal.SIGHUP),
        ("agent", "download", signal.SIGTERM),
    ],
    indirect=["how"],
)
def test_sigterm_and_sighup_stop_a_transfer_as_ctrl_c_does(
    live: Setup, how: str, verb: str, signum: int, tmp_path: Path
) -> None:
    remote_root = Path(live.profile.remote_root)
    here = tmp_path / "here"
    here.mkdir()
    name = f"sig-{verb}-{signum}-{how}.bin"
    if verb == "upload":
        with (here / name).open("wb") as f:
            f.truncate(BIG)
        args, watched, prefix = [str(here / name), name], remote_root, ".colablink-up."
    else:
        with (remote_root / name).open("wb") as f:
            f.truncate(BIG)
        as_runtime_user(live, remote_root / name)
        args, watched, prefix = [name, f"{here}/"], here, ".colablink-down."

    process = live.spawn("--profile", SLOW, verb, *args)
    try:
        wait_for(lambda: partial(watched, prefix), 30, f"the {verb} to be under way")
    finally:
        elapsed = interrupt(live, process, how, signum)
    assert elapsed < EXIT_S
    wait_for(lambda: not temps(watched, prefix), EXIT_S, "the temporary to go")
    assert not temps(here, ".colablink-down.")
    assert not temps(remote_root, ".colablink-up.")
    wait_for(lambda: not remote_tars(live), EXIT_S, "the remote tar to end")
    target = here / name if verb == "download" else remote_root / name
    assert not target.exists()
    (remote_root / name).unlink(missing_ok=True)


def test_a_killed_direct_upload_leaves_no_remote_temp(
    live: Setup, slow: DelayProxy, tmp_path: Path
) -> None:
    """SIGKILL leaves nobody here to clean: the runtime's side does, once its input ends."""
    remote_root = Path(live.profile.remote_root)
    big = tmp_path / "killed.bin"
    with big.open("wb") as f:
        f.truncate(BIG)
    process = live.spawn("--profile", SLOW, "upload", str(big), big.name)
    try:
        wait_for(lambda: partial(remote_root, ".colablink-up."), 30, "the upload to be under way")
    finally:
        process.kill()
        process.wait()
    wait_for(lambda: not temps(remote_root, ".colablink-up."), 5, "the remote temp to go")
    wait_for(lambda: not remote_tars(live), 5, "the remote tar to end")
    assert not (remote_root / big.name).exists()


# The runtime user's ~/.bashrc (first, before Debian's non-interactive return): while the hold
# file exists, ``mv`` (the upload's rename into place, after its commit line) waits for it to go.
HOLD = ".hold-mv"
SLOW_MV = (
    f"mv() {{ if [ -e ~/{HOLD} ]; then : > ~/{HOLD}.at; while [ -e ~/{HOLD} ]; do sleep 0.02; "
    'done; fi; command mv "$@"; }'
)


@contextlib.contextmanager
def planted(live: Setup, function: str) -> Iterator[Path]:
    """``function`` first in the runtime user's ~/.bashrc, written by that user; yields its home."""
    plant = f"{{ echo {shlex.quote(function)}; cat ~/.bashrc; }} > ~/.rc && mv ~/.rc ~/.bashrc"
    assert live.cli("--profile", SLOW, "exec", plant).returncode == 0
    try:
        yield Path(pwd.getpwnam(live.runtime.username).pw_dir)
    finally:
        assert live.cli("--profile", SLOW, "exec", "sed -i 1d ~/.bashrc").returncode == 0


@pytest.fixture
def held_rename(live: Setup, slow: DelayProxy) -> Iterator[Path]:
    """The hold file (absent); while it exists, every upload waits right after its commit."""
    with planted(live, SLOW_MV) as home:
        try:
            yield home / HOLD
        finally:
            (home / HOLD).unlink(missing_ok=True)


@pytest.mark.parametrize("answered", [True, False], ids=["answered", "unanswered"])
@pytest.mark.parametrize("how", ["direct", "agent"], indirect=True)
def test_ctrl_c_after_the_commit_reports_the_landing(
    live: Setup, how: str, answered: bool, held_rename: Path, tmp_path: Path
) -> None:
    dest = Path(live.profile.remote_root) / f"landing-{how}-{answered}.txt"
    dest.write_text("old")
    as_runtime_user(live, dest)
    new = tmp_path / "new.txt"
    new.write_text("new")
    held_rename.touch()
    at_rename = held_rename.with_name(HOLD + ".at")
    process = live.spawn("--profile", SLOW, "upload", str(new), dest.name)
    try:
        wait_for(at_rename.exists, 20, "the upload to reach its rename")
        process.send_signal(signal.SIGINT)
        if answered:
            time.sleep(0.2)  # the runtime answers within the CLI's wait
            held_rename.unlink()
        out, err = process.communicate(timeout=10)
    finally:
        end(process)
        held_rename.unlink(missing_ok=True)
        at_rename.unlink(missing_ok=True)
    if answered:
        assert process.returncode == 0, err
        assert b"Uploaded" in out, out
    else:
        assert process.returncode == 1, err
        assert b"may already hold it" in err and b"cancelled" not in err, err
    wait_for(lambda: dest.read_text() == "new", 5, "the committed upload to land")


# A runtime that sends the whole archive, closes its output, then holds back its exit status.
STALLED_EXIT = (
    'tar() { command tar "$@"; case "$*" in *stalled-*) exec >&- 2>&-; sleep 60;; esac; }'
)


def test_a_download_cancelled_while_the_runtime_holds_its_exit_never_lands(
    live: Setup, slow: DelayProxy, tmp_path: Path
) -> None:
    source = Path(live.profile.remote_root) / "stalled-down.txt"
    source.write_text("new")
    as_runtime_user(live, source)
    here = tmp_path / "here"
    here.mkdir()
    with planted(live, STALLED_EXIT):
        process = live.spawn("--profile", SLOW, "download", source.name, f"{here}/")
        try:
            wait_for(lambda: remote_sleeps(live), 20, "the runtime to hold its exit")
        finally:
            elapsed = interrupt(live, process, "direct")
    assert elapsed < EXIT_S
    assert not list(here.iterdir())
    wait_for(lambda: not remote_sleeps(live), EXIT_S, "the remote end to be killed")
    source.unlink()
