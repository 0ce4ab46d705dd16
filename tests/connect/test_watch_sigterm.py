"""SIGTERM ends the real `colablink watch` within ``STOP_S`` whatever it is doing.

Each case drives a `watch` process into one state through a ``DelayProxy`` (slowed, stalled,
stopped) and sends SIGTERM there: connecting, pushing a large tree, pulling a large output,
waiting to retry, redialling into a silent link, serving a transfer or a command, halted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from colablink.local.profiles import Profile, ProfileStore
from support.system import wait_for

from bench.delay_proxy import DelayProxy

from .conftest import Setup, end, make_profile, remote_sleeps

# The contract: SIGTERM ends `watch` within 2 s in every state.
STOP_S = 2.0
BIG = 1 << 30  # sparse: large enough that no transfer of it ends within a case


@dataclass
class Watch:
    process: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)

    def follow(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)


@dataclass
class Case:
    live: Setup
    proxy: DelayProxy
    profile: Profile
    socket: Path

    def watch(self, *args: str) -> Watch:
        watch = Watch(self.live.spawn("--profile", self.profile.name, "watch", *args))
        threading.Thread(target=watch.follow, daemon=True).start()
        return watch

    def up(self, *args: str) -> Watch:
        watch = self.watch(*args)
        wait_for(lambda: watch.said("is up"), 20, "the agent to be up")
        return watch

    def owned(self, path: Path) -> Path:
        account = pwd.getpwnam(self.live.runtime.username)
        os.chown(path, account.pw_uid, account.pw_gid)
        return path


@pytest.fixture
def case(live: Setup, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Case]:
    """A fresh profile (own project, own outputs) reaching the runtime through a 20 ms proxy."""
    base = Path(os.environ["COLABLINK_CONFIG_DIR"]).parent
    name = f"t{len(list(base.glob('t*')))}"
    (base / name).mkdir()
    with DelayProxy(live.runtime.host, live.runtime.port, delay=0.01) as proxy:
        profile = make_profile(live.runtime, base / name, name=name, port=proxy.port)
        profile = dataclasses.replace(profile, remote_dir=f"out-{name}")
        ProfileStore().save(profile)
        yield Case(live, proxy, profile, base / "run" / f"agent-{name}.sock")


def connecting(case: Case) -> Watch:
    case.proxy.stall()
    watch = case.watch()
    wait_for(lambda: case.proxy.connections_accepted, 10, "the agent to dial")
    return watch


def pushing(case: Case) -> Watch:
    with (case.profile.project_root / "big.bin").open("wb") as f:
        f.truncate(BIG)
    watch = case.up()
    wait_for(lambda: watch.said("sync: pushing"), 20, "the push of the large tree")
    return watch


def pulling(case: Case) -> Watch:
    outputs = Path(case.profile.remote_conn_dir)
    outputs.mkdir()
    case.owned(outputs)
    with (outputs / "big.out").open("wb") as f:
        f.truncate(BIG)
    case.owned(outputs / "big.out")
    watch = case.up()
    local = case.profile.local_conn_dir

    def arriving() -> bool:
        return local.exists() and any(
            p.is_file() and p.stat().st_size > (1 << 20) for p in local.rglob("*")
        )

    wait_for(arriving, 20, "the large output to be arriving")
    return watch


def retrying(case: Case) -> Watch:
    watch = case.up()
    wait_for(lambda: watch.said("sync: idle"), 20, "the first pass")
    case.proxy.stop()  # every connection cut, and no new one accepted
    wait_for(lambda: watch.said("sync: retrying"), 20, "the backoff")
    return watch


def redialling(case: Case) -> Watch:
    watch = case.up()
    wait_for(lambda: watch.said("sync: idle"), 20, "the first pass")
    accepted = case.proxy.connections_accepted
    case.proxy.stall()
    case.proxy.cut()  # the new dial finds a link that never answers: it holds the session's lock
    wait_for(lambda: case.proxy.connections_accepted > accepted, 20, "the redial")
    return watch


def serving_a_transfer(case: Case) -> Watch:
    watch = case.up("--no-sync")
    big = case.profile.project_root / "big.bin"
    with big.open("wb") as f:
        f.truncate(BIG * 4)
    client = case.live.spawn("--profile", case.profile.name, "upload", str(big), "big.bin")
    remote_root = Path(case.profile.remote_root)
    try:
        wait_for(lambda: list(remote_root.glob(".colablink-up.*/x")), 20, "the upload under way")
    except BaseException:
        end(client)
        raise
    threading.Thread(target=lambda: (client.wait(30), end(client)), daemon=True).start()
    return watch


def serving_a_command(case: Case) -> Watch:
    watch = case.up("--no-sync")
    client = case.live.spawn("--profile", case.profile.name, "exec", "sleep", "100")
    try:
        wait_for(lambda: remote_sleeps(case.live), 20, "the remote command")
    except BaseException:
        end(client)
        raise
    threading.Thread(target=lambda: (client.wait(30), end(client)), daemon=True).start()
    return watch


def halted(case: Case) -> Watch:
    # The outputs directory is a file on the runtime: the sync cannot watch it and halts.
    outputs = Path(case.profile.remote_conn_dir)
    outputs.write_text("not a directory")
    case.owned(outputs)
    watch = case.up()
    wait_for(lambda: watch.said("sync: halted"), 20, "the sync to halt")
    return watch


STATES: dict[str, Callable[[Case], Watch]] = {
    "connecting": connecting,
    "pushing": pushing,
    "pulling": pulling,
    "retrying": retrying,
    "redialling": redialling,
    "serving a transfer": serving_a_transfer,
    "serving a command": serving_a_command,
    "halted": halted,
}


@pytest.mark.parametrize("state", list(STATES))
def test_sigterm_ends_watch_quickly(case: Case, state: str) -> None:
    watch = STATES[state](case)
    try:
        started = time.monotonic()
        watch.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            watch.process.wait(timeout=10)
        took = time.monotonic() - started
    finally:
        end(watch.process)
    print(f"{state}: watch ended {took:.2f} s after SIGTERM")
    assert took < STOP_S, watch.lines
    assert watch.process.returncode in (0, 128 + signal.SIGTERM), watch.lines
    assert not case.socket.exists()
    if state == "serving a transfer":
        remote_root = Path(case.profile.remote_root)
        wait_for(lambda: not list(remote_root.glob(".colablink-up.*")), 2, "the remote temp to go")
