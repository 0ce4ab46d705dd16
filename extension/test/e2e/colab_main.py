"""Colab's /colab/ssh endpoint for the end-to-end test: the pytest stand-in, in front of a runtime.

Usage: colab_main.py SSHD_PORT AUTHORIZED_KEYS HOME BIN_DIR. It serves the stand-in (the same code
as tests/colab), writes the real client's three files into HOME so that it reaches nothing but the
stand-in, and writes BIN_DIR/colab: Google's real client (installed once into the tests' cache) for
`colab ssh`, and a stand-in at the process boundary for `colab usage` and `colab stop`, which talk
to Google's account APIs; each call is recorded in BIN_DIR/calls. One JSON line goes to stdout
({"cli": ..., "calls": ...}); it runs until stdin closes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "server")]

from colab.standin import TOKEN, endpoint, write_client_home  # noqa: E402

CLIENT_VERSION = "0.7.5"

ACCOUNT_STANDIN = """\
import json, os, pathlib, sys
with open({calls!r}, "a") as calls:
    calls.write(" ".join(sys.argv[1:]) + "\\n")
if sys.argv[1:2] == ["usage"]:
    sys.exit(print("Current balance: 12.50 compute units\\nUsage rate: 1.76/hr"))
if sys.argv[1:2] == ["stop"]:
    state = pathlib.Path(os.environ["HOME"], ".config", "colab-cli", "sessions.json")
    sessions = json.loads(state.read_text())
    sessions.pop(sys.argv[sys.argv.index("-s") + 1])
    state.write_text(json.dumps(sessions))
    sys.exit(print("Stopped"))
os.execv({real!r}, [{real!r}, *sys.argv[1:]])
"""


def real_client() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    venv = Path(base) / "colablink-tests" / f"colab-cli-{CLIENT_VERSION}"
    cli = venv / "bin" / "colab"
    if not cli.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "--ignore-requires-python",
             f"google-colab-cli=={CLIENT_VERSION}"],
            check=True, stdout=sys.stderr,
        )  # fmt: skip
    return cli


def main() -> None:
    port, authorized_keys, home, bin_dir = sys.argv[1:5]
    real = real_client()
    bindir = Path(bin_dir)
    bindir.mkdir(parents=True, exist_ok=True)
    calls = bindir / "calls"
    cli = bindir / "colab"
    script = ACCOUNT_STANDIN.format(calls=str(calls), real=str(real))
    cli.write_text(f"#!{sys.executable}\n{script}")
    cli.chmod(0o755)
    with endpoint(int(port), Path(authorized_keys), TOKEN) as server:
        write_client_home(Path(home), server.url)
        print(json.dumps({"cli": str(cli), "calls": str(calls)}), flush=True)
        for _ in sys.stdin:
            pass


if __name__ == "__main__":
    main()
