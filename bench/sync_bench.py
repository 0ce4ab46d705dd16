"""Sync benchmark against OpenSSH/rsync/scp, direct and through a 40 ms RTT delay proxy.

    .venv/bin/python bench/sync_bench.py [--saves 200] [--big-mib 1024] [--links direct,rtt40]

Runs its own root-mode runtime (real sshd on loopback). Cases:
(a) save → visible remotely, p50/p95, vs watchdog + a fresh ``rsync -e ssh`` per change;
(b) remote write → local file; (c) first sync of 10,000 × 4 KiB files in 100 dirs vs
``rsync -a`` and ``rsync -a --fsync``; (d) re-sync after 10 changed files vs rsync;
(e) 1 GiB upload and download vs scp; (r) real trees (the project's own checkout, and a
generated ~15,000 files in ~6,000 dirs with nested ``.gitignore`` files): first sync (into a
fresh directory, alternating with rsync) and a no-change pass (one-off, and through a running
engine as ``watch`` serves ``colablink sync``), medians of 3, vs
``rsync -a --filter=':- .gitignore'``, and save → remote p50 with the engine watching that tree.
Every timed run starts after an ``os.sync()``: local and remote share a disk here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from colablink.ssh.session import Session, SshTarget  # noqa: E402
from colablink.sync.engine import Backoff, SyncEngine  # noqa: E402
from colablink.sync.spec import SyncSpec  # noqa: E402
from support.runtimes import RuntimeHandle, start_root_runtime  # noqa: E402

from bench.delay_proxy import DelayProxy  # noqa: E402

MIB = 1024 * 1024


class Link:
    def __init__(self, name: str, rt: RuntimeHandle, port: int, work: Path) -> None:
        self.name = name
        self.rt = rt
        self.port = port
        self.known = work / f"known_hosts_{name}"
        self.known.write_text("".join(f"[127.0.0.1]:{port} {key}\n" for key in rt.host_keys))
        self.sessions: list[Session] = []

    def connect(self) -> Session:
        session = Session.connect(
            SshTarget(
                host="127.0.0.1",
                port=self.port,
                username=self.rt.username,
                host_keys=tuple(self.rt.host_keys),
                key_path=Path(self.rt.client_key),
            )
        )
        self.sessions.append(session)
        return session

    def ssh_cmd(self) -> list[str]:
        return [
            "ssh",
            "-p",
            str(self.port),
            "-i",
            str(self.rt.client_key),
            "-o",
            f"UserKnownHostsFile={self.known}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
        ]

    def dest(self, path: str) -> str:
        return f"{self.rt.username}@127.0.0.1:{path}"

    def close(self) -> None:
        for session in self.sessions:
            session.close()


@contextlib.contextmanager
def open_link(name: str, rt: RuntimeHandle, work: Path) -> Iterator[Link]:
    """``direct``: the runtime's sshd; ``rtt40``: through a delay proxy, 20 ms each way."""
    proxy = None
    port = rt.port
    if name == "rtt40":
        proxy = DelayProxy("127.0.0.1", rt.port, delay=0.020)
        port = proxy.start()
    link = Link(name, rt, port, work)
    try:
        yield link
    finally:
        link.close()
        if proxy is not None:
            proxy.stop()


def chown_tree(path: Path, like: Path) -> None:
    st = like.stat()
    for dirpath, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(dirpath, name), st.st_uid, st.st_gid)
    os.chown(path, st.st_uid, st.st_gid)


def fresh_remote(rt: RuntimeHandle, name: str) -> Path:
    path = Path(rt.remote_root) / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    chown_tree(path, Path(rt.remote_root))
    return path


def engine_for(link: Link, project: Path, remote: Path, **kwargs: object) -> SyncEngine:
    spec = SyncSpec(
        local_root=project,
        remote_root=str(remote),
        local_conn_dir=project / "outputs",
        remote_conn_dir=str(remote / "outputs"),
    )
    return SyncEngine(
        spec, link.connect, debounce=0.05, settle=0.5, backoff=Backoff(0.1, 1.0), **kwargs
    )  # type: ignore[arg-type]


def timed(fn: Callable[[], object]) -> float:
    # Local and remote share one disk here: flush what came before, so neither side's
    # fsync or writeback pays for the tree just generated or the other tool's run.
    os.sync()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rsync(link: Link, src: Path, dest: str, *extra: str) -> None:
    done = subprocess.run(
        ["rsync", "-a", *extra, "-e", " ".join(link.ssh_cmd()), f"{src}/", link.dest(dest)],
        capture_output=True,
        check=False,
    )
    if done.returncode not in (0, 24):  # 24: a source file vanished while listing
        raise RuntimeError(f"rsync failed ({done.returncode}): {done.stderr.decode()[-500:]}")


def case_a(link: Link, work: Path, saves: int, baseline_saves: int) -> dict[str, float]:
    project = work / f"a_{link.name}"
    project.mkdir()
    remote = fresh_remote(link.rt, f"a_{link.name}")
    engine = engine_for(link, project, remote)
    landed: dict[str, float] = {}
    done = threading.Condition()

    def on_pushed(rels: list[str]) -> None:
        now = time.perf_counter()
        with done:
            for rel in rels:
                landed.setdefault(rel, now)
            done.notify_all()

    engine.on_pushed(on_pushed)
    engine.start()
    while str(engine.state) != "idle":
        time.sleep(0.01)
    samples: list[float] = []
    payload = os.urandom(4096)
    for i in range(saves):
        rel = f"f{i % 20}.py"
        with done:
            landed.pop(rel, None)
        start = time.perf_counter()
        (project / rel).write_bytes(payload[:-8] + i.to_bytes(8, "big"))
        with done:
            done.wait_for(lambda rel=rel: rel in landed, 10)
            samples.append(landed[rel] - start)
        time.sleep(0.005)
    engine.stop()
    # The original: watchdog callback then a fresh rsync over a new SSH connection per change.
    base: list[float] = []
    for i in range(baseline_saves):
        start = time.perf_counter()
        (project / "f0.py").write_bytes(payload[:-8] + (10**6 + i).to_bytes(8, "big"))
        rsync(link, project, str(remote))
        base.append(time.perf_counter() - start)
    return {
        "p50": statistics.median(samples) * 1000,
        "p95": pct(samples, 0.95) * 1000,
        "rsync_p50": statistics.median(base) * 1000,
        "rsync_p95": pct(base, 0.95) * 1000,
    }


def case_b(link: Link, work: Path, samples_n: int) -> dict[str, float]:
    project = work / f"b_{link.name}"
    project.mkdir()
    remote = fresh_remote(link.rt, f"b_{link.name}")
    engine = engine_for(link, project, remote)
    engine.start()
    while str(engine.state) != "idle":
        time.sleep(0.01)
    out = remote / "outputs"
    samples: list[float] = []
    for i in range(samples_n):
        target = project / "outputs" / f"o{i}.txt"
        start = time.perf_counter()
        (out / f"o{i}.txt").write_bytes(os.urandom(4096))
        while not target.exists():
            time.sleep(0.0002)
        samples.append(time.perf_counter() - start)
        time.sleep(0.01)
    engine.stop()
    return {"p50": statistics.median(samples) * 1000, "p95": pct(samples, 0.95) * 1000}


def make_small_tree(root: Path) -> None:
    for d in range(100):
        sub = root / f"d{d:02}"
        sub.mkdir(parents=True)
        for f in range(100):
            (sub / f"f{f:03}.txt").write_bytes(os.urandom(4096))


def case_cd(link: Link, work: Path) -> dict[str, float]:
    project = work / f"c_{link.name}"
    make_small_tree(project)
    remote = fresh_remote(link.rt, f"c_{link.name}")
    engine = engine_for(link, project, remote)
    link.connect()  # the engine's session is warm in watch; measure the sync, not the login
    ours = timed(engine.sync_once)
    rs_remote = fresh_remote(link.rt, f"c_rsync_{link.name}")
    theirs = timed(lambda: rsync(link, project, str(rs_remote)))
    rs_fsync = fresh_remote(link.rt, f"c_rsyncf_{link.name}")
    theirs_fsync = timed(lambda: rsync(link, project, str(rs_fsync), "--fsync"))
    for i in range(10):
        (project / f"d{i * 7:02}" / f"f{i:03}.txt").write_bytes(os.urandom(4096))
    # (d) as the watcher does it: the changed paths pushed on the open session.
    engine.start()
    while str(engine.state) != "idle":
        time.sleep(0.01)
    for i in range(10):
        (project / f"d{i * 7:02}" / f"f{i + 20:03}.txt").write_bytes(os.urandom(4096))
    changed = [project / f"d{i * 7:02}" / f"f{i + 20:03}.txt" for i in range(10)]
    watch_d = timed(lambda: engine.flush(changed))
    engine.stop()
    rescan_d = timed(engine.sync_once)  # a full re-diff with nothing left to send
    resync_rs = timed(lambda: rsync(link, project, str(rs_remote)))
    return {
        "c_ours": ours,
        "c_rsync": theirs,
        "c_rsync_fsync": theirs_fsync,
        "d_watch": watch_d,
        "d_rescan": rescan_d,
        "d_rsync": resync_rs,
    }


def case_e(link: Link, work: Path, big_mib: int) -> dict[str, float]:
    project = work / f"e_{link.name}"
    project.mkdir()
    big = project / "big.bin"
    with open(big, "wb") as handle:
        block = os.urandom(MIB)
        for _ in range(big_mib):
            handle.write(block)
    remote = fresh_remote(link.rt, f"e_{link.name}")
    engine = engine_for(link, project, remote)
    up = timed(engine.sync_once)
    scp_base = [*link.ssh_cmd()]
    scp_opts = ["scp", "-q", *scp_base[1:]]
    scp_opts[scp_opts.index("-p")] = "-P"
    scp_up = timed(
        lambda: subprocess.run(
            [*scp_opts, str(big), link.dest(str(remote / "scp.bin"))], check=True
        )
    )
    out = remote / "outputs"
    out.mkdir(exist_ok=True)
    shutil.copyfile(big, out / "down.bin")
    chown_tree(out, remote)
    down = timed(engine.sync_once)
    scp_down = timed(
        lambda: subprocess.run(
            [*scp_opts, link.dest(str(out / "down.bin")), str(work / f"scp_{link.name}.bin")],
            check=True,
        )
    )
    size = big_mib * MIB
    for path in (big, project / "outputs" / "down.bin", work / f"scp_{link.name}.bin"):
        path.unlink(missing_ok=True)
    return {
        "up_mbs": size / up / 1e6,
        "scp_up_mbs": size / scp_up / 1e6,
        "down_mbs": size / down / 1e6,
        "scp_down_mbs": size / scp_down / 1e6,
    }


def make_real_tree(root: Path) -> None:
    """~15,000 files in ~6,000 dirs, shaped like a big repository: nested .gitignore files
    (with a re-include), ignored build output and logs, a git repository around it all."""
    root.mkdir(parents=True)
    (root / ".gitignore").write_text("*.log\nbuild/\n*.o\n")
    for top in range(20):
        pkg = root / f"pkg{top:02}"
        (pkg).mkdir()
        (pkg / ".gitignore").write_text("!keep.log\n*.tmp\n")
        for mid in range(30):
            for leaf in range(10):
                d = pkg / f"m{mid:02}" / f"l{leaf}"
                d.mkdir(parents=True)
                for f in range(2):
                    (d / f"f{f}.py").write_bytes(os.urandom(1500))
            (pkg / f"m{mid:02}" / "run.log").write_text("ignored\n")
            (pkg / f"m{mid:02}" / "x.tmp").write_text("ignored\n")
        (pkg / "keep.log").write_text("kept\n")
        (pkg / "build").mkdir()
        for f in range(20):
            (pkg / "build" / f"o{f}.o").write_bytes(os.urandom(2048))
    # No automatic gc: it would repack in the background while the tree is being copied.
    git = ["git", "-C", str(root), "-c", "user.name=b", "-c", "user.email=b@b", "-c", "gc.auto=0"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "tree"], check=True)


def time_saves(target: Path, seen: Path, saves: int, pause: float = 0.02) -> list[float]:
    """Save ``target`` → the new bytes visible remotely at ``seen``, ``saves`` times."""
    samples: list[float] = []
    for i in range(saves):
        data = f"save {i}\n".encode() * 8
        start = time.perf_counter()
        target.write_bytes(data)
        deadline = start + 30
        while True:
            try:
                if seen.read_bytes() == data:
                    break
            except OSError:
                pass
            if time.perf_counter() > deadline:
                raise RuntimeError(f"save {i} of {target} did not reach the runtime in 30 s")
            time.sleep(0.0005)
        samples.append(time.perf_counter() - start)
        time.sleep(pause)
    return samples


def case_r(link: Link, work: Path, saves: int) -> dict[str, float]:
    out: dict[str, float] = {}
    trees = {"own": work / f"r_own_{link.name}", "gen": work / f"r_gen_{link.name}"}
    subprocess.run(["git", "clone", "-q", str(ROOT), str(trees["own"])], check=True)
    make_real_tree(trees["gen"])
    for label, project in trees.items():
        # First syncs alternate with rsync's, each into a fresh directory: medians of 3.
        ours_initial: list[float] = []
        theirs_initial: list[float] = []
        for round_ in range(3):
            remote = fresh_remote(link.rt, f"r_{label}_{link.name}_{round_}")
            engine = engine_for(link, project, remote)
            ours_initial.append(timed(engine.sync_once))
            rs_remote = fresh_remote(link.rt, f"r_{label}_rsync_{link.name}_{round_}")

            def again(p: Path = project, r: Path = rs_remote) -> None:
                rsync(link, p, str(r), "--filter=:- .gitignore")

            theirs_initial.append(timed(again))
        out[f"{label}_initial"] = statistics.median(ours_initial)
        out[f"{label}_rsync_initial"] = statistics.median(theirs_initial)
        # No-change passes: the median of a few, each a one-off `colablink sync` (connect,
        # start the agent, one pass), as rsync is.
        out[f"{label}_nochange"] = statistics.median(timed(engine.sync_once) for _ in range(3))
        out[f"{label}_rsync_nochange"] = statistics.median(timed(again) for _ in range(3))
        engine.start()
        while str(engine.state) != "idle":
            time.sleep(0.01)
        # `colablink sync` while `watch` runs: the pass rides watch's connection and agent.
        out[f"{label}_nochange_watch"] = statistics.median(
            timed(engine.sync_once) for _ in range(3)
        )
        if label == "gen":
            # Save → remote with the engine watching the tree, as `watch` does.
            target = project / "pkg00" / "m00" / "l0" / "f0.py"
            samples = time_saves(target, remote / "pkg00/m00/l0/f0.py", saves)
            out["gen_save_p50_ms"] = statistics.median(samples) * 1000
            out["gen_save_p95_ms"] = pct(samples, 0.95) * 1000
        engine.stop()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--saves", type=int, default=200, help="saves timed in case (a) (default: 200)"
    )
    parser.add_argument(
        "--baseline-saves",
        type=int,
        default=30,
        help="saves timed for the watchdog + rsync-per-change baseline (default: 30)",
    )
    parser.add_argument(
        "--outputs", type=int, default=100, help="remote writes timed in case (b) (default: 100)"
    )
    parser.add_argument(
        "--big-mib", type=int, default=1024, help="size of the (e) transfer on loopback (MiB)"
    )
    parser.add_argument(
        "--big-mib-rtt",
        type=int,
        default=256,
        help="size of the (e) transfer at 40 ms RTT (MiB; the delay proxy tops out near 40 MB/s)",
    )
    parser.add_argument(
        "--links", default="direct,rtt40", help="comma-separated: direct, rtt40 (default: both)"
    )
    parser.add_argument(
        "--cases",
        default="a,b,c,e",
        help="comma-separated cases; c includes d; r = real trees (default: a,b,c,e)",
    )
    args = parser.parse_args()
    rt = start_root_runtime()
    work = Path(tempfile.mkdtemp(prefix="clk-bench-"))
    results: dict[str, dict[str, float]] = {}
    try:
        for name in args.links.split(","):
            with open_link(name, rt, work) as link:
                if "a" in args.cases:
                    results[f"a {name}"] = case_a(link, work, args.saves, args.baseline_saves)
                    print(f"(a) {name}: {results[f'a {name}']}", flush=True)
                if "b" in args.cases:
                    results[f"b {name}"] = case_b(link, work, args.outputs)
                    print(f"(b) {name}: {results[f'b {name}']}", flush=True)
                if "c" in args.cases:
                    results[f"cd {name}"] = case_cd(link, work)
                    print(f"(c/d) {name}: {results[f'cd {name}']}", flush=True)
                if "r" in args.cases:
                    results[f"r {name}"] = case_r(link, work, min(args.saves, 50))
                    print(f"(r) {name}: {results[f'r {name}']}", flush=True)
                if "e" in args.cases:
                    size = args.big_mib if name == "direct" else args.big_mib_rtt
                    results[f"e {name}"] = case_e(link, work, size)
                    print(f"(e) {name} {size} MiB: {results[f'e {name}']}", flush=True)
    finally:
        rt.close()
        shutil.rmtree(work, ignore_errors=True)
    print()
    for key, values in results.items():
        line = ", ".join(f"{k}={v:.3f}" for k, v in values.items())
        print(f"{key}: {line}")
        if key.startswith("a "):
            print(f"   p50 ratio vs rsync per change: {values['p50'] / values['rsync_p50']:.3f}")
        if key.startswith("cd "):
            print(
                f"   (c) ratio vs rsync: {values['c_ours'] / values['c_rsync']:.2f}, "
                f"vs rsync --fsync: {values['c_ours'] / values['c_rsync_fsync']:.2f}; "
                f"(d) watch ratio: {values['d_watch'] / values['d_rsync']:.3f}, "
                f"rescan ratio: {values['d_rescan'] / values['d_rsync']:.2f}"
            )
        if key.startswith("r "):
            for label in ("own", "gen"):
                initial = values[f"{label}_initial"] / values[f"{label}_rsync_initial"]
                nochange = values[f"{label}_nochange"] / values[f"{label}_rsync_nochange"]
                watched = values[f"{label}_nochange_watch"] / values[f"{label}_rsync_nochange"]
                print(
                    f"   ({label}) initial {initial:.2f}× rsync, no-change {nochange:.2f}× "
                    f"rsync, no-change under watch {watched:.2f}× rsync"
                )
        if key.startswith("e "):
            print(
                f"   up {values['up_mbs'] / values['scp_up_mbs']:.2f}× scp, "
                f"down {values['down_mbs'] / values['scp_down_mbs']:.2f}× scp"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
