"""A runtime that lies about its outputs cannot flood ``colablink watch`` or hand it bad files.

The attacker is the runtime user: a ``python3`` function in ``~/.bashrc`` runs the sync agent
with extra code appended. That agent lists hundreds of thousands of paths that escape the
outputs dir, announces them again in change events, and answers a read with far more bytes
than it listed. Watch must stay small and quiet (one line per kind of refusal, with a count),
cut the oversized file off, and give pulled files local modes carrying only the executable bit.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
from pathlib import Path

from support import run_as
from support.runtimes import RuntimeHandle
from watch_cli import Local, Watch

FLOOD = 100_000

PATCH = f"""

_real_scan = scan_tree
FLOOD = {FLOOD}


def scan_tree(root, prune, prune_names, versions=False):
    yield from _real_scan(root, prune, prune_names, versions)
    if versions:  # the outputs listing
        for i in range(FLOOD):
            yield ["../flood/%d" % i, "f", 1, 1, 0o644]


class Agent(Agent):
    def send_file(self, seq, root, rel, tail=None, listed=None):
        if not rel.endswith("liar.bin"):
            return super().send_file(seq, root, rel, tail, listed)
        meta = {{"op": "data", "seq": seq, "path": rel, "size": 4 << 20, "mtime_ns": 1,
                 "mode": 0o644, "ctime_ns": 1, "changed": False}}
        for i in range(4):
            self.out.send({{**meta, "offset": i << 20, "last": i == 3}}, b"X" * (1 << 20))

    def op_watch(self, header, body):
        super().op_watch(header, body)
        for part in range(10):
            entries = [["../event/%d/%d" % (part, i), "f", 1, 1, 0o644, -1]
                       for i in range(FLOOD // 10)]
            self.out.send({{"op": "changed", "watch": header["watch"], "entries": entries}})
"""

# Run instead of the agent's bootstrap: the real source, with the patch appended.
EVIL_AGENT = f"""
import sys
b = sys.stdin.buffer
n = int(b.readline())
source = b.read(n)
if b"class Watcher" in source:
    source += {PATCH.encode()!r}
g = {{"__name__": "colablink_agent"}}
exec(compile(source, "colablink-agent", "exec"), g)
g["main"]()
"""

WRAPPER = (
    'python3() { case "$2" in *colablink-agent*) command python3 ~/.agent.py ;; '
    '*) command python3 "$@" ;; esac; }'
)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def counted(watch: Watch) -> int:
    """Refusals watch reported as counts ("skipped N more paths: …")."""
    return sum(
        int(line.split("skipped ")[1].split()[0])
        for line in list(watch.lines)
        if "skipped " in line and " more path" in line
    )


def test_a_lying_runtime_cannot_flood_watch_or_oversize_a_file(
    runtime: RuntimeHandle, local: Local
) -> None:
    user = runtime.username
    planted = run_as(user, ["sh", "-c", "cat > ~/.agent.py"], input=EVIL_AGENT.encode())
    assert planted.returncode == 0, planted.stderr
    plant = f"{{ echo {shlex.quote(WRAPPER)}; cat ~/.bashrc; }} > ~/.rc && mv ~/.rc ~/.bashrc"
    assert run_as(user, ["bash", "-c", plant]).returncode == 0

    enrolled = local.cli("init", input=json.dumps(runtime.info))
    assert enrolled.returncode == 0, enrolled.stderr
    remote_out = Path(runtime.remote_root) / local.profile()["remote_dir"]
    for name, data, mode in (
        ("liar.bin", b"0123456789", 0o644),
        ("tool.sh", b"#!/bin/sh\n", 0o4777),
        ("data.txt", b"plain\n", 0o666),
    ):
        path = shlex.quote(str(remote_out / name))
        script = f"mkdir -p {shlex.quote(str(remote_out))} && cat > {path} && chmod {mode:o} {path}"
        assert run_as(user, ["sh", "-c", script], input=data).returncode == 0
    outputs = local.project / local.profile()["local_dir"]
    watch = Watch(local)
    try:
        watch.wait(lambda: (outputs / "data.txt").exists(), 60, "the first pull")
        watch.wait(lambda: counted(watch) >= 2 * FLOOD - 20, 60, "the whole flood to be counted")
        peak = rss_mib(watch.process.pid)
    finally:
        watch.kill()
    skipped = [line for line in watch.lines if "skipped" in line]
    print(f"watch peak RSS {peak:.0f} MiB; {len(skipped)} problem lines for {2 * FLOOD} refusals")
    assert len(skipped) <= 20, skipped[:30]
    assert any("liar.bin: the runtime sent more than it announced; cut off" in s for s in skipped)
    assert not (outputs / "liar.bin").exists()
    assert peak < 200, f"watch grew to {peak:.0f} MiB"

    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((outputs / "tool.sh").stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((outputs / "data.txt").stat().st_mode) == 0o666 & ~umask
    assert (outputs / "tool.sh").read_bytes() == b"#!/bin/sh\n"
    assert not list(outputs.parent.glob("flood")) and not (local.project.parent / "flood").exists()
