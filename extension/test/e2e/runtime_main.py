"""Starts a real root-mode ColabLink runtime for the end-to-end test and prints its info.

It uses the same test-bed code as the pytest fixtures (a unique dedicated user, a fresh
remote_root, tunnel none, a free port). One JSON line goes to stdout: the connection info plus
the path where the runtime user's own authorized_keys live; the runtime is torn down and removed when stdin closes.
Until then, a line "down" on stdin stops its sshd and ends every session (like a runtime that
went away), and "up" sets it up again on the same port with the same host keys; each answers with
the same word on stdout once done.
"""

from __future__ import annotations

import json
import pwd
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "server"), str(REPO / "colab")]

from support.runtimes import start_root_runtime  # noqa: E402


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
