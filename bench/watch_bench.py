"""The real ``colablink watch`` process on real trees, next to rsync in the same run.

    .venv/bin/python bench/watch_bench.py [--saves 50] [--idle 10] [--links direct,rtt40]

Runs its own root-mode runtime (real sshd on loopback), enrolls a profile with ``colablink init``
for each tree (the project's own clone, and the generated ~15,000-file tree with nested
``.gitignore`` files of ``sync_bench.py``) and starts ``colablink watch`` there, as a user does.
It measures, for each tree and link:

- start → idle: from starting ``watch`` (interpreter start, connect, agent, first sync) to its
  ``sync: idle`` line, against ``rsync -a --filter=':- .gitignore'`` into a fresh directory;
- the process's peak RSS (``VmHWM``) once idle;
- its CPU over ``--idle`` idle seconds;
- save → visible on the runtime, p50 and p95 over ``--saves`` saves, and the CPU those took.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "sync"))
sys.path.insert(0, str(ROOT))

from support.runtimes import RuntimeHandle, start_root_runtime  # noqa: E402
from watch_cli import Local, Watch, cpu_seconds  # noqa: E402

from bench.sync_bench import (  # noqa: E402
    Link,
    fresh_remote,
    make_real_tree,
    open_link,
    pct,
    rsync,
    time_saves,
    timed,
)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def local_machine() -> Local:
    """A user's machine in a directory: config, runtime dir and ssh config of its own. Short:
    the agent's unix socket path must fit in 108 bytes."""
    base = Path(tempfile.mkdtemp(prefix="clw-"))
    env = {
        **os.environ,
        "HOME": str(base / "home"),
        "COLABLINK_CONFIG_DIR": str(base / "config"),
        "COLABLINK_RUNTIME_DIR": str(base / "run"),
        "COLABLINK_SSH_CONFIG": str(base / "ssh_config"),
    }
    return Local(base, env, base / "project")


def start_to_idle(local: Local) -> tuple[Watch, float]:
    """``colablink watch`` started, and the seconds until it reported its first ``idle``."""
    started = time.perf_counter()
    watch = Watch(local)
    while "sync: idle" not in watch.lines:
        if watch.process.poll() is not None or time.perf_counter() - started > 600:
            watch.kill()
            raise RuntimeError("watch did not go idle; it said:\n" + "\n".join(watch.lines[-20:]))
        time.sleep(0.002)
    return watch, time.perf_counter() - started


def enroll(rt: RuntimeHandle, link: Link, local: Local, remote: Path) -> None:
    """``colablink init`` with the runtime's info, pointed at this link's port and a fresh
    remote root, so each tree lands in its own directory."""
    info = {**rt.info, "port": link.port, "remote_root": str(remote)}
    done = local.cli("init", "--remote-dir", "outputs", "-", input=json.dumps(info))
    if done.returncode != 0:
        raise RuntimeError(f"colablink init failed: {done.stderr.strip()[-500:]}")


def measure(
    rt: RuntimeHandle, link: Link, label: str, tree: Path, args: argparse.Namespace
) -> dict[str, float]:
    local = local_machine()
    try:
        shutil.copytree(tree, local.project, symlinks=True)
        remote = fresh_remote(rt, f"w_{label}_{link.name}")
        enroll(rt, link, local, remote)
        os.sync()
        watch, first = start_to_idle(local)
        try:
            out = {"start_to_idle": first}
            time.sleep(1.0)  # the last of the first pass's bookkeeping
            pid = watch.process.pid
            out["peak_rss_mib"] = peak_rss_mib(pid)
            before = cpu_seconds(pid)
            time.sleep(args.idle)
            out["idle_cpu"] = cpu_seconds(pid) - before
            target = next(p for p in sorted(local.project.rglob("*.py")) if ".git" not in p.parts)
            before = cpu_seconds(pid)
            samples = time_saves(
                target, remote / target.relative_to(local.project), args.saves, pause=0.05
            )
            out["save_cpu_ms"] = (cpu_seconds(pid) - before) / args.saves * 1000
            out["save_p50_ms"] = statistics.median(samples) * 1000
            out["save_p95_ms"] = pct(samples, 0.95) * 1000
        finally:
            watch.kill()
        theirs = fresh_remote(rt, f"w_{label}_rsync_{link.name}")
        out["rsync_initial"] = timed(
            lambda: rsync(link, local.project, str(theirs), "--filter=:- .gitignore")
        )
        return out
    finally:
        shutil.rmtree(local.base, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=50, help="saves timed (default: 50)")
    parser.add_argument("--idle", type=float, default=10.0, help="idle seconds (default: 10)")
    parser.add_argument(
        "--links", default="direct,rtt40", help="comma-separated: direct, rtt40 (default: both)"
    )
    args = parser.parse_args()
    rt = start_root_runtime()
    work = Path(tempfile.mkdtemp(prefix="clk-wbench-"))
    rows: list[tuple[str, dict[str, float]]] = []
    try:
        trees = {"own": work / "own", "gen": work / "gen"}
        subprocess.run(["git", "clone", "-q", str(ROOT), str(trees["own"])], check=True)
        make_real_tree(trees["gen"])
        for name in args.links.split(","):
            with open_link(name, rt, work) as link:
                for label, tree in trees.items():
                    row = measure(rt, link, label, tree, args)
                    print(f"{name} {label}: {row}", flush=True)
                    rows.append((f"{name} {label}", row))
    finally:
        rt.close()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(
        f"{'tree':<12}{'start→idle':>11}{'rsync':>8}{'ratio':>7}{'RSS':>8}"
        f"{f'idle CPU/{args.idle:.0f}s':>15}{'save p50':>10}{'p95':>8}{'CPU/save':>10}"
    )
    for key, row in rows:
        print(
            f"{key:<12}{row['start_to_idle']:>10.2f}s{row['rsync_initial']:>7.2f}s"
            f"{row['start_to_idle'] / row['rsync_initial']:>6.2f}×"
            f"{row['peak_rss_mib']:>5.0f}MiB{row['idle_cpu']:>14.3f}s"
            f"{row['save_p50_ms']:>8.1f}ms{row['save_p95_ms']:>6.1f}ms{row['save_cpu_ms']:>8.1f}ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
