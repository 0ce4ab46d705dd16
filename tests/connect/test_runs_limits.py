"""The supervisor's bounds: a run's output past its cap, and a runtime whose disk is full."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from colablink.connection import Connection
from colablink.errors import ColabLinkError
from colablink.ssh import runs
from colablink.ssh.runs import SupervisorLink
from colablink_runtime import procs
from support.system import pids_of_user, wait_for

from .conftest import Setup


def link_for(connection: Connection, root: str, **limits: int) -> SupervisorLink:
    # A short idle lifetime: each test waits for its supervisor to leave.
    return SupervisorLink.open(connection.session, root, {"idle_s": 1, **limits})


def no_supervisor_in(live: Setup, root: str) -> bool:
    return not [
        pid
        for pid in pids_of_user(live.runtime.username)
        if root in " ".join(procs.cmdline_of(pid))  # a process may end while we look
    ]


def test_output_past_the_cap_drops_the_oldest_and_says_so(live: Setup) -> None:
    root = f"{live.runtime.remote_root}/capped"
    with Connection(live.profile) as connection:
        link = link_for(connection, root, output_cap=8192)
        out: list[bytes] = []
        notices: list[str] = []
        # 2000 numbered lines of 8 bytes: 16 KB, twice the cap, in one write (one read, mostly).
        line = 'python3 -c \'print("\\n".join("%07d" % i for i in range(2000)))\''
        code = runs.follow(
            lambda: link,
            {"line": line, "command": "count"},
            on_stdout=out.append,
            on_stderr=out.append,
            on_notice=notices.append,
        )
        assert code == 0
        (run,) = link.list()
        kept: list[bytes] = []
        late: list[str] = []
        runs.follow(
            lambda: link,
            {},
            on_stdout=kept.append,
            on_stderr=kept.append,
            on_notice=late.append,
            run_id=run.id,
        )
        link.close()
    assert b"".join(out).decode().split() == [f"{i:07d}" for i in range(2000)]
    tail = b"".join(kept).decode().split()
    # Oldest dropped first, whole records: what is left is the end of the output, in order.
    assert 0 < len(tail) < 2000 and tail == [f"{i:07d}" for i in range(2000 - len(tail), 2000)]
    assert any("were dropped" in notice for notice in late)
    wait_for(lambda: no_supervisor_in(live, root), 10, "the capped supervisor to exit")


@pytest.fixture
def full_root(live: Setup) -> Iterator[str]:
    root = Path(live.runtime.remote_root) / "full"
    root.mkdir()
    uid = int(subprocess.check_output(["id", "-u", live.runtime.username]))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size=64k,uid={uid}", "tmpfs", str(root)])
    try:
        subprocess.run(["dd", "if=/dev/zero", f"of={root}/filler", "bs=4k"], capture_output=True)
        yield str(root)
    finally:
        wait_for(lambda: no_supervisor_in(live, str(root)), 10, "the supervisor to exit")
        subprocess.run(["umount", "-l", str(root)], check=True)


def test_a_full_disk_is_a_clear_error(live: Setup, full_root: str) -> None:
    with Connection(live.profile) as connection:
        link = link_for(connection, full_root)
        with pytest.raises(ColabLinkError, match="disk is full"):
            link.start({"line": "echo hi", "command": "echo hi"}, None)
        link.close()
