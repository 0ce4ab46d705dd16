"""The remote agent's protocol, against ``python3`` running it locally over pipes."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from colablink.errors import RemoteError
from colablink.ssh.bootstrap import BOOTSTRAP
from colablink.sync.agent_client import SyncAgentClient
from colablink.sync.wire import agent_source

NS = 1_700_000_000_000_000_001


class PipeDuplex:
    """The agent as a local process over pipes, the way the SSH channel carries it."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self.stdin_fd = process.stdin.fileno()
        self.stdout_fd = process.stdout.fileno()

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.stdin_fd, view) :]

    def read(self, size: int) -> bytes:
        return os.read(self.stdout_fd, size)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


def spawn() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["/bin/sh", "-c", BOOTSTRAP], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )


@pytest.fixture
def agent() -> Iterator[tuple[SyncAgentClient, list[tuple[dict[str, object], bytes]]]]:
    events: list[tuple[dict[str, object], bytes]] = []
    process = spawn()
    client = SyncAgentClient(PipeDuplex(process), on_event=lambda h, b: events.append((h, b)))
    client.start()
    try:
        yield client, events
    finally:
        client.close()


def test_mismatched_protocol_version_is_refused() -> None:
    process = spawn()
    patched = agent_source().replace(b"PROTOCOL_VERSION = 1", b"PROTOCOL_VERSION = 99")
    client = SyncAgentClient(PipeDuplex(process), source=patched)
    with pytest.raises(RemoteError, match="incompatible"):
        client.start(timeout=10)
    client.close()
    assert process.wait(5) is not None


def test_requests_sent_behind_a_refused_hello_fail_with_its_reason() -> None:
    process = spawn()
    patched = agent_source().replace(b"PROTOCOL_VERSION = 1", b"PROTOCOL_VERSION = 99")
    client = SyncAgentClient(PipeDuplex(process), source=patched)
    client.begin()
    listing = client.request({"op": "digests", "root": "/", "dirs": []})
    with pytest.raises(RemoteError, match="incompatible"):
        listing.result(10)
    with pytest.raises(RemoteError, match="incompatible"):
        client.request({"op": "mkdir", "root": "/", "dirs": []})
    client.close()
    assert process.wait(5) is not None


def test_batched_puts_are_atomic_and_keep_mode_and_mtime(agent, tmp_path: Path) -> None:
    client, _ = agent
    files = [["a/b.txt", 5, 1_700_000_000_123_456_789, 0o640], ["c", 0, 1_000_000_007, 0o755]]
    assert client.call({"op": "put", "root": str(tmp_path), "files": files}, b"hello")["op"] == "ok"
    st = (tmp_path / "a" / "b.txt").stat()
    assert (tmp_path / "a" / "b.txt").read_bytes() == b"hello"
    assert (st.st_mtime_ns, st.st_mode & 0o7777) == (1_700_000_000_123_456_789, 0o640)
    assert (tmp_path / "c").stat().st_mode & 0o777 == 0o755
    modes = [0o666, 0o400, 0o4755, 0o600]
    files = [[f"m{m:o}", 1, NS, m] for m in modes]
    client.call({"op": "put", "root": str(tmp_path), "files": files}, b"x" * len(modes))
    assert [(tmp_path / f"m{m:o}").stat().st_mode & 0o7777 for m in modes] == modes
    assert not [p for p in tmp_path.rglob(".clk~*")]


def test_directories_get_their_exact_modes_and_nothing_else_is_taken_for_one(
    agent, tmp_path: Path
) -> None:
    client, _ = agent
    (tmp_path / "old").mkdir(mode=0o700)
    (tmp_path / "file").write_text("x")
    os.symlink(tmp_path / "old", tmp_path / "link")
    dirs = [["a", 0o777], ["a/b", 0o2750], ["deep/er/c", 0o1777], ["old", 0o755]]
    reply = client.call(
        {"op": "mkdir", "root": str(tmp_path), "dirs": [*dirs, ["file", 0o755], ["link", 0o755]]}
    )
    assert [rel for rel, _ in reply["errors"]] == ["file", "link"]
    assert [(tmp_path / rel).stat().st_mode & 0o7777 for rel, _ in dirs] == [m for _, m in dirs]
    assert (tmp_path / "file").read_text() == "x"


def test_escaping_paths_are_refused_by_the_agent_too(agent, tmp_path: Path) -> None:
    client, _ = agent
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(tmp_path, root / "link")
    files = [["../x", 1, 1, 0o644], ["/abs", 1, 1, 0o644], ["link/y", 1, 1, 0o644]]
    reply = client.call({"op": "put", "root": str(root), "files": files}, b"abc")
    assert [rel for rel, _ in reply["errors"]] == ["../x", "/abs", "link/y"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]


def test_a_deep_symlinked_directory_is_refused_beside_verified_ones(agent, tmp_path: Path) -> None:
    """Real paths are cached per directory within a request: a symlink deep below directories
    already checked is still caught, for files and for directories made."""
    client, _ = agent
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a" / "b" / "ok").mkdir(parents=True)
    outside.mkdir()
    os.symlink(outside, root / "a" / "b" / "link")
    files = [
        ["a/b/ok/f", 1, NS, 0o644],
        ["a/b/link/f", 1, NS, 0o644],
        ["a/b/link/c/f", 1, NS, 0o644],
    ]
    reply = client.call({"op": "put", "root": str(root), "files": files}, b"xyz")
    assert [rel for rel, _ in reply["errors"]] == ["a/b/link/f", "a/b/link/c/f"]
    dirs = [["a/b/ok/d", 0o755], ["a/b/link/d", 0o755], ["a/b/link/d/e", 0o755]]
    reply = client.call({"op": "mkdir", "root": str(root), "dirs": dirs})
    assert [rel for rel, _ in reply["errors"]] == ["a/b/link/d", "a/b/link/d/e"]
    assert list(outside.iterdir()) == []
    assert (root / "a/b/ok/f").read_bytes() == b"x" and (root / "a/b/ok/d").is_dir()


def test_streamed_file_aborted_midway_leaves_no_temp(agent, tmp_path: Path) -> None:
    client, _ = agent
    fid = client.new_fid()
    head = {"op": "begin", "fid": fid, "root": str(tmp_path), "path": "big", "size": 10}
    client.send({**head, "mtime_ns": 1, "mode": 0o644})
    client.send({"op": "chunk", "fid": fid}, b"12345")
    client.call({"op": "mkdir", "root": str(tmp_path), "dirs": []})  # the chunk was written
    assert len(list(tmp_path.glob(".clk~*"))) == 1
    client.close()  # stdin closes: the agent removes its temp file and exits
    assert list(tmp_path.iterdir()) == []


def test_stale_temp_of_a_dead_agent_is_removed_on_scan(agent, tmp_path: Path) -> None:
    client, _ = agent
    (tmp_path / ".clk~999999~1~x").write_bytes(b"partial")
    (tmp_path / "kept").write_bytes(b"k")
    reply = client.call({"op": "manifest", "root": str(tmp_path)})
    assert [e[0] for e in reply["entries"]] == ["kept"]
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]


@pytest.mark.parametrize("mode", ["auto", "poll"])
def test_watch_reports_settled_files_with_inline_content(agent, tmp_path: Path, mode: str) -> None:
    client, events = agent
    reply = client.call(
        {
            "op": "watch",
            "watch": 7,
            "root": str(tmp_path),
            "settle": 0.2,
            "interval": 0.05,
            "mode": mode,
        }
    )
    assert reply["mode"] == ("inotify" if mode == "auto" else "poll")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "out.txt").write_bytes(b"result")
    deadline = time.monotonic() + 10

    def arrived() -> list[dict[str, object]]:
        # A file caught between create and write may be reported empty first; its close follows.
        return [h for h, b in events if b.endswith(b"result") and "sub/out.txt" in str(h)]

    while time.monotonic() < deadline and not arrived():
        time.sleep(0.01)
    assert arrived(), events
    assert arrived()[0]["watch"] == 7


def test_agent_exits_when_stdin_closes(tmp_path: Path) -> None:
    process = spawn()
    client = SyncAgentClient(PipeDuplex(process))
    client.start()
    client.call({"op": "watch", "watch": 1, "root": str(tmp_path), "settle": 1})
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(5) == 0


def test_a_directory_moved_out_of_the_watched_root_is_no_longer_reported(
    agent, tmp_path: Path
) -> None:
    client, events = agent
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    client.call({"op": "watch", "watch": 1, "root": str(root), "settle": 0.2, "interval": 0.05})
    (root / "a").mkdir()
    time.sleep(0.2)  # its watch is established
    (root / "a").rename(outside)
    (root / "a").mkdir()
    (root / "a" / "x.txt").write_bytes(b"inside")
    (outside / "x.txt").write_bytes(b"outside")  # was reported as a/x.txt: the old watch's name
    (root / "marker").write_bytes(b"m")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "marker" not in str(events):
        time.sleep(0.01)
    time.sleep(0.3)
    reports = [e[0] for h, _b in events for e in h.get("entries", []) if e[0] == "a/x.txt"]
    assert reports == ["a/x.txt"], events
