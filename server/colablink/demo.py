"""``colablink demo``: the whole round trip against a local runtime, in a throwaway sandbox.

It starts a runtime on 127.0.0.1 (its own sshd; a dedicated user as root, else the current user
with key-only login), enrolls a profile against it from a temporary project, syncs a small
program up, runs it remotely, watches its output file arrive locally, and removes everything.
The user's real config, keys and ~/.ssh/config are never touched: every ColabLink path points
into the sandbox for the duration.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from colablink.errors import ColabLinkError

PROFILE = "demo"
OUTPUT_NAME = "result.json"
SAMPLE_PROGRAM = '''\
"""A stand-in for train.py: it runs on the runtime and writes its result to the output dir."""
import json
import os
import platform
import time

out_dir = os.environ["COLABLINK_OUTPUT_DIR"]
print(f"running on {platform.node()} in {os.getcwd()} with Python {platform.python_version()}")
loss = 1.0
for epoch in range(1, 4):
    loss *= 0.5
    print(f"epoch {epoch}: loss {loss:.3f}")
    time.sleep(0.1)
with open(os.path.join(out_dir, "result.json"), "w") as handle:
    json.dump({"final_loss": loss, "epochs": 3, "host": platform.node()}, handle)
print("wrote result.json to", out_dir)
'''
SANDBOX_VARS = ("COLABLINK_CONFIG_DIR", "COLABLINK_RUNTIME_DIR", "COLABLINK_SSH_CONFIG")

Say = Callable[[str], None]


@contextmanager
def sandbox_environment(base: Path) -> Iterator[None]:
    """Point every ColabLink path into ``base`` while the demo runs, then restore."""
    saved = {name: os.environ.get(name) for name in SANDBOX_VARS}
    os.environ["COLABLINK_CONFIG_DIR"] = str(base / "config")
    os.environ["COLABLINK_RUNTIME_DIR"] = str(base / "run")
    os.environ["COLABLINK_SSH_CONFIG"] = str(base / "ssh_config")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_runtime(base: Path, key_path: Path, say: Say) -> tuple[Any, dict[str, Any]]:
    """A local runtime on a free port; without root it authorizes the profile key up front."""
    from colablink_runtime import ColabRuntime

    from colablink.local import keys, paths

    remote_root = base / "runtime" / "content"
    remote_root.parent.mkdir(mode=0o755)
    port = free_port()
    if os.geteuid() == 0:
        say(f"starting a local runtime (a dedicated user, sshd on 127.0.0.1:{port})")
        runtime = ColabRuntime(
            username=f"cldemo{secrets.token_hex(3)}",
            remote_root=str(remote_root),
            port=port,
            tunnel="none",
        )
    else:
        say(f"starting a local runtime (you, key-only sshd on 127.0.0.1:{port})")
        paths.ensure_private_dir(key_path.parent)
        public = keys.generate_keypair(key_path, f"colablink-{PROFILE}")
        runtime = ColabRuntime(
            remote_root=str(remote_root),
            port=port,
            tunnel="none",
            authorized_keys=[public],
        )
    try:
        return runtime, runtime.setup()
    except BaseException:
        runtime.teardown(remove=True)
        raise


def run_demo(say: Say, out: Callable[[bytes], None]) -> None:
    """The demo itself; raises ``ColabLinkError`` with one sentence if a step fails."""
    from colablink.connection import Connection
    from colablink.enroll import enrollment
    from colablink.enroll.connection_info import connection_info_from_dict
    from colablink.local import paths
    from colablink.sync.engine import SyncEngine
    from colablink.sync.spec import spec_for

    base = Path(tempfile.mkdtemp(prefix="colablink-demo-"))
    base.chmod(0o755)  # the runtime's dedicated user must reach its remote root inside
    runtime = None
    try:
        with sandbox_environment(base):
            key_path = paths.keys_dir() / PROFILE
            runtime, info = start_runtime(base, key_path, say)
            project = base / "project"
            project.mkdir()
            (project / "train.py").write_text(SAMPLE_PROGRAM)
            say(f"temporary project {project} with train.py")
            profile = enrollment.enroll(
                connection_info_from_dict(info),
                profile=PROFILE,
                remote_dir="connection_demo",
                local_dir="connection_demo",
                project_root=project,
            )
            say(f"enrolled profile {profile.name!r}: key login, pinned host key")
            with Connection(profile) as connection:
                landed = threading.Event()
                engine = SyncEngine(spec_for(profile), lambda: connection.session)
                engine.on_outputs(lambda paths_: landed.set() if paths_ else None)
                engine.start()
                try:
                    if not engine.flush(timeout=60):
                        raise ColabLinkError("The demo could not sync train.py to the runtime.")
                    say("synced train.py to the runtime; running `python3 train.py` there:")
                    code = connection.exec(["python3", "train.py"], on_stdout=out, on_stderr=out)
                    if code != 0:
                        raise ColabLinkError(f"The sample program failed remotely (exit {code}).")
                    result = profile.local_conn_dir / OUTPUT_NAME
                    if not landed.wait(30) or not result.exists():
                        raise ColabLinkError("The output file did not arrive locally in 30 s.")
                finally:
                    engine.stop()
            say(f"output arrived locally: {result}")
            out(result.read_bytes() + b"\n")
            enrollment.forget(profile)
    finally:
        say("tearing everything down")
        if runtime is not None:
            runtime.teardown(remove=True)
        shutil.rmtree(base, ignore_errors=True)
    say("demo finished: sources went up, the program ran remotely, its output came back")


def main() -> int:
    from rich.console import Console

    console = Console(stderr=False, highlight=False)

    def say(text: str) -> None:
        console.print(f"[bold cyan]▶[/] {text}", soft_wrap=True)

    def out(data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()

    run_demo(say, out)
    return 0
