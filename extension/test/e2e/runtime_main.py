"""Starts a real root-mode ColabLink runtime for the end-to-end test and prints its info.

It uses the same test-bed code as the pytest fixtures (a unique dedicated user, a fresh
remote_root, tunnel none, a free port). One JSON line goes to stdout: the connection info plus
the path where the runtime user's own authorized_keys live; the runtime is torn down and removed when stdin closes.
Until then, a line "down" on stdin stops its sshd and ends every session (like a runtime that
went away), and "up" sets it up again on the same port with the same host keys; each answers with
the same word on stdout once done.

Like Colab, whose python3 comes with Jupyter, the runtime's Jupyter server is set up and started
in the background while the scenario's first steps run ("jupyter ready" on stdout once it is, or
"jupyter failed: WHY"), so the cell step does not wait for pip.
"""

from __future__ import annotations

import json
import pwd
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "server"), str(REPO / "colab")]

from colablink.connection import Connection  # noqa: E402
from colablink.errors import ColabLinkError  # noqa: E402
from colablink.local.profiles import Profile  # noqa: E402
from colablink.notebooks.jupyter_server import ensure_server  # noqa: E402
from support.runtimes import RuntimeHandle, start_root_runtime  # noqa: E402


def prepare_jupyter(handle: RuntimeHandle) -> None:
    profile = Profile(
        name="e2e-jupyter",
        host=handle.host,
        port=handle.port,
        username=handle.username,
        remote_root=handle.remote_root,
        remote_dir="colab_outputs",
        local_dir="colab_outputs",
        project_root=Path(tempfile.mkdtemp(prefix="e2e-jupyter-")),
        key_path=handle.client_key,
        host_keys=list(handle.host_keys),
    )
    try:
        with Connection(profile) as connection:
            ensure_server(connection)
    except ColabLinkError as exc:
        print(f"jupyter failed: {exc.message}", flush=True)
        return
    print("jupyter ready", flush=True)


def main() -> None:
    handle = start_root_runtime()
    try:
        home = Path(pwd.getpwnam(handle.username).pw_dir)
        answer = {
            "info": handle.info,
            "username": handle.username,
            "authorizedKeys": str(home / ".ssh" / "authorized_keys"),
        }
        print(json.dumps(answer, default=str), flush=True)
        threading.Thread(target=prepare_jupyter, args=(handle,), daemon=True).start()
        for line in sys.stdin:
            if line.strip() == "down":
                handle.runtime.teardown()
            elif line.strip() == "up":
                handle.runtime.setup()
            else:
                continue
            print(line.strip(), flush=True)
    finally:
        handle.close()


if __name__ == "__main__":
    main()
