"""Idle is idle: the real ``colablink watch`` on a real git repository with a ``.gitignore``.

Reading ignore files, scanning and the engine's own writes must never start another pass, so
over ten idle seconds the process uses almost no CPU, and a save still lands at once.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from support.runtimes import RuntimeHandle
from watch_cli import Local, Watch, cpu_seconds

IDLE_SECONDS = 10.0
IDLE_CPU_LIMIT = 0.2


def git_repo(root: Path) -> None:
    """A small real repository: nested ignore files, an ignored log, a committed tree."""
    files = {
        "a.py": "x = 1\n",
        ".gitignore": "*.log\nbuild/\n",
        "pkg/__init__.py": "",
        "pkg/.gitignore": "!keep.log\n",
        "pkg/keep.log": "kept\n",
        "pkg/mod.py": "y = 2\n",
        "run.log": "ignored\n",
        "build/out.o": "ignored\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "tree"], check=True)


def test_watch_is_idle_on_a_git_repository(runtime: RuntimeHandle, local: Local) -> None:
    git_repo(local.project)
    enrolled = local.cli("init", input=json.dumps(runtime.info))
    assert enrolled.returncode == 0, enrolled.stderr
    remote = Path(runtime.remote_root)
    watch = Watch(local)
    try:
        watch.wait(lambda: (remote / "pkg" / "keep.log").exists(), 60, "the first sync")
        assert not (remote / "run.log").exists()
        watch.wait(lambda: watch.lines[-1:] == ["sync: idle"], 30, "watch to go idle")
        time.sleep(1.0)
        lines_before = len(watch.lines)
        before = cpu_seconds(watch.process.pid)
        time.sleep(IDLE_SECONDS)
        used = cpu_seconds(watch.process.pid) - before
        idle_log = watch.lines[lines_before:]
        print(f"watch idle CPU: {used:.3f} s in {IDLE_SECONDS:.0f} s")
        assert used < IDLE_CPU_LIMIT, (
            f"{used:.2f} s of CPU in {IDLE_SECONDS} idle s: {idle_log[-6:]}"
        )
        assert idle_log == [], f"watch worked while idle: {idle_log[-6:]}"

        # Still responsive: a save reaches the runtime quickly.
        started = time.monotonic()
        (local.project / "a.py").write_text("x = 2\n")
        watch.wait(lambda: (remote / "a.py").read_text() == "x = 2\n", 10, "the save to land")
        assert time.monotonic() - started < 3.0
    finally:
        watch.kill()
