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
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support.runtimes import RuntimeHandle, start_root_runtime  # noqa: E402

from bench.delay_proxy import DelayProxy  # noqa: E402
from bench.sync_bench import Link, fresh_remote, make_real_tree, pct, rsync, timed  # noqa: E402

PROFILE = "bench"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Local:
    """A user's machine in a directory: config, runtime dir, ssh config, and the project."""

    base: Path
    project: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": str(self.base / "home"),
            "COLABLINK_CONFIG_DIR": str(self.base / "config"),
            "COLABLINK_RUNTIME_DIR": str(self.base / "run"),
            "COLABLINK_SSH_CONFIG": str(self.base / "ssh_config"),
        }

    def colablink(self, *args: str, stdin: str | None = None) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "colablink", "--profile", PROFILE, *args],
            env=self.env,
            cwd=self.project,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"colablink {args[0]} failed: {done.stderr.strip()[-500:]}")


class Watch:
    """``colablink watch`` as a subprocess; its lines read as they come."""

    def __init__(self, local: Local) -> None:
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "colablink", "--profile", PROFILE, "watch"],
            env=local.env,
            cwd=local.project,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[tuple[float, str]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append((time.perf_counter(), line.rstrip("\n")))

    def first_idle(self, timeout: float = 600) -> float:
        """Seconds from start to the first ``sync: idle`` line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, line in list(self.lines):
                if line == "sync: idle":
                    return at - self.started
            if self.process.poll() is not None:
                break
            time.sleep(0.005)
        said = "\n".join(line for _at, line in self.lines[-20:])
        raise RuntimeError(f"watch did not go idle; it said:\n{said}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def enroll(rt: RuntimeHandle, link: Link, local: Local, remote: Path) -> None:
    """``colablink init`` with the runtime's info, pointed at this link's port and a fresh
    remote root, so each tree lands in its own directory."""
    info = {**rt.info, "port": link.port, "remote_root": str(remote)}
    local.colablink("init", "--remote-dir", "outputs", "-", stdin=json.dumps(info))


def saves_through(watch: Watch, project: Path, remote: Path, saves: int) -> list[float]:
    target = next(p for p in sorted(project.rglob("*.py")) if ".git" not in p.parts)
    seen = remote / target.relative_to(project)
    samples: list[float] = []
    for i in range(saves):
        data = f"save {i}\n".encode() * 8
        start = time.perf_counter()
        target.write_bytes(data)
        while True:
            try:
                if seen.read_bytes() == data:
                    break
            except OSError:
                pass
            if watch.process.poll() is not None:
                raise RuntimeError("watch exited while saving")
            time.sleep(0.0005)
        samples.append(time.perf_counter() - start)
        time.sleep(0.05)
    return samples


def measure(
    rt: RuntimeHandle, link: Link, label: str, tree: Path, args: argparse.Namespace
) -> dict[str, float]:
    # Short base path: the agent's unix socket must fit in 108 bytes.
    base = Path(tempfile.mkdtemp(prefix="clw-"))
    try:
        project = base / label
        shutil.copytree(tree, project, symlinks=True)
        local = Local(base, project)
        remote = fresh_remote(rt, f"w_{label}_{link.name}")
        enroll(rt, link, local, remote)
        os.sync()
        watch = Watch(local)
        try:
            out = {"start_to_idle": watch.first_idle()}
            time.sleep(1.0)  # the last of the first pass's bookkeeping
            out["peak_rss_mib"] = peak_rss_mib(watch.process.pid)
            before = cpu_seconds(watch.process.pid)
            time.sleep(args.idle)
            out["idle_cpu"] = cpu_seconds(watch.process.pid) - before
            before = cpu_seconds(watch.process.pid)
            samples = saves_through(watch, project, remote, args.saves)
            out["save_cpu_ms"] = (cpu_seconds(watch.process.pid) - before) / args.saves * 1000
            out["save_p50_ms"] = statistics.median(samples) * 1000
            out["save_p95_ms"] = pct(samples, 0.95) * 1000
        finally:
            watch.stop()
        theirs = fresh_remote(rt, f"w_{label}_rsync_{link.name}")
        out["rsync_initial"] = timed(
            lambda: rsync(link, project, str(theirs), "--filter=:- .gitignore")
        )
        return out
    finally:
        shutil.rmtree(base, ignore_errors=True)


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
            proxy = None
            port = rt.port
            if name == "rtt40":
                proxy = DelayProxy("127.0.0.1", rt.port, delay=0.020)
                port = proxy.start()
            link = Link(name, rt, port, work)
            try:
                for label, tree in trees.items():
                    row = measure(rt, link, label, tree, args)
                    print(f"{name} {label}: {row}", flush=True)
                    rows.append((f"{name} {label}", row))
            finally:
                link.close()
                if proxy is not None:
                    proxy.stop()
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
