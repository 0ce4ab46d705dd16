"""Runs on the runtime: the Jupyter server's private environment, kernelspec, start and stop.

Sent by the local side with ``kernel_launcher.py`` and ``notebook_runner.py`` and kept, with the
server's state, in ``<remote_root>/.colablink/jupyter/`` (0700; the token file 0600). Standard
library only, Python 3.8 compatible; started with the runtime's ``python3``, the one ``colablink
exec python3`` runs, which is also the kernel's interpreter, so the user's packages import there.

Where that ``python3`` lacks ``jupyter_server``, ``ipykernel`` or ``nbclient`` (Colab has them), a
private venv built on it, ``<remote_root>/.colablink/jupyter-env``, gets them from pip (pip's own
environment and config apply: ``PIP_INDEX_URL``, ``PIP_FIND_LINKS``…). The server runs on the
venv's interpreter; the kernel runs on ``python3`` with the venv's site-packages appended to its
path, so the user's own packages win.

Commands (``python3 jupyter_env.py CMD ROOT``; each prints one JSON line on stdout, progress and
errors on stderr): ``ensure`` (install when needed, write the kernelspec, then ``status``),
``status [RUN_ID]`` (the running server, or ``{}``; a run id given is recorded with it), ``serve``
(the supervised run: port, fresh token, then exec of the server, which keeps the lock), ``stop``,
``run-notebook NOTEBOOK OUTPUT`` (``ensure``, then exec of ``notebook_runner.py``), ``await RUN_ID
SECONDS`` (until a server just started answers: its state, ``{}`` if it ended or never began, or
``{"starting": true}`` at the time limit).
"""

from __future__ import annotations

# Plain os calls: this program must stay small and 3.8-compatible.
# ruff: noqa: PTH101, PTH102, PTH103, PTH105, PTH108, PTH110, PTH117, PTH118, PTH120
import contextlib
import fcntl
import json
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
from typing import Any

FOLDER = ".colablink/jupyter"
ENV_FOLDER = ".colablink/jupyter-env"
PACKAGES = ("jupyter_server", "ipykernel", "nbclient")
READY_MARK = ".colablink-ready"
STATE = "server.json"
SETUP = "env.json"
LOCK = "serve.lock"
STOP_WAIT_S = 10.0
# How long a server just started may take to take its lock (its start is a python3 and a read).
LOCK_WAIT_S = 20.0
NO_VENV = (
    "The runtime's python3 cannot make a virtual environment (venv or ensurepip is missing); "
    "install it there (on Debian or Ubuntu: apt-get install python3-venv) and try again."
)


class Failure(Exception):
    """One sentence for the user; the program exits 3."""


def folder(root: str) -> str:
    path = os.path.join(root, FOLDER)
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_private(path: str, data: str) -> None:
    temp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(data)
    os.replace(temp, path)


def read_json(path: str) -> dict[str, Any]:
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def has_packages(python: str) -> bool:
    probe = "import importlib.util as u, sys; sys.exit(any(u.find_spec(n) is None for n in %r))"
    done = subprocess.run(
        [python, "-c", probe % (PACKAGES,)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return done.returncode == 0


def site_dirs(python: str) -> list[str]:
    code = "import sysconfig, json; p = sysconfig.get_paths(); print(json.dumps([p['purelib'], "
    code += "p['platlib']]))"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout
    found: list[str] = []
    for path in json.loads(out):
        if path not in found:
            found.append(path)
    return found


def make_venv(root: str) -> str:
    """The private venv's python, built on this interpreter and pip-installed once."""
    venv = os.path.join(root, ENV_FOLDER)
    python = os.path.join(venv, "bin", "python")
    if os.path.exists(os.path.join(venv, READY_MARK)):
        return python
    try:
        import ensurepip  # noqa: F401
        import venv as _venv  # noqa: F401
    except ImportError:
        raise Failure(NO_VENV) from None
    if os.path.exists(venv):  # a half-made one from an interrupted install
        subprocess.run(["rm", "-rf", venv], check=False)
    started = time.monotonic()
    say(f"Installing {', '.join(PACKAGES)} into {venv} (once; about a minute)…")
    made = subprocess.run(
        [sys.executable, "-m", "venv", venv], capture_output=True, text=True, check=False
    )
    if made.returncode != 0:
        raise Failure(NO_VENV)
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"]
    done = subprocess.run(
        [*pip, *PACKAGES], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )
    if done.returncode != 0:
        for line in done.stdout.splitlines()[-15:]:
            say(f"  {line}")
        raise Failure(f"pip could not install {', '.join(PACKAGES)} on the runtime (see above).")
    with open(os.path.join(venv, READY_MARK), "w") as mark:
        mark.write("ok\n")
    say(f"Installed in {time.monotonic() - started:.0f} s.")
    return python


def ensure(root: str) -> dict[str, Any]:
    """The server's interpreter and the kernelspec, installing what is missing."""
    here = folder(root)
    kernel_python = sys.executable
    if has_packages(kernel_python):
        server_python, extra = kernel_python, []
    else:
        # One install at a time: a second caller (the editor and a terminal) waits for the first.
        with open(os.path.join(here, "install.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            server_python = make_venv(root)
        extra = site_dirs(server_python)
    spec_dir = os.path.join(here, "share", "kernels", "python3")
    os.makedirs(spec_dir, exist_ok=True)
    argv = [kernel_python, os.path.join(here, "kernel_launcher.py")]
    for path in extra:
        argv += ["--site", path]
    spec = {
        "argv": [*argv, "-f", "{connection_file}"],
        "display_name": "Python 3 (runtime)",
        "language": "python",
        "metadata": {"debugger": True},
    }
    write_private(os.path.join(spec_dir, "kernel.json"), json.dumps(spec, indent=1))
    setup = {"server_python": server_python, "kernel_python": kernel_python, "site": extra}
    write_private(os.path.join(here, SETUP), json.dumps(setup))
    return status(root, None)


def kernel_dir() -> str:
    """Where kernels' connection files and unix sockets live: short (a socket path has 107
    bytes), private to this user, and checked, since ``/tmp`` is everyone's."""
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"  # noqa: S108 (checked below)
    path = os.path.join(base, f"colablink-jupyter-{os.getuid()}")
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise Failure(f"{path} is not a private folder of the runtime's user; remove it there.")
    return path


def server_env(root: str) -> dict[str, str]:
    """What the server and a headless run need: the kernelspec's path, and the kernels' folder."""
    here = folder(root)
    return {
        **os.environ,
        "JUPYTER_PATH": os.path.join(here, "share"),
        "JUPYTER_RUNTIME_DIR": kernel_dir(),
    }


def lock_is_held(path: str) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def status(root: str, run_id: str | None) -> dict[str, Any]:
    """The running server's state, or ``{}``; ``starting`` while it does not answer yet."""
    here = folder(root)
    path = os.path.join(here, STATE)
    if not lock_is_held(os.path.join(here, LOCK)):
        return {}
    state = read_json(path)
    port = state.get("port")
    if not isinstance(port, int):
        return {"starting": True}
    if run_id and not state.get("run_id"):
        state["run_id"] = run_id
        write_private(path, json.dumps(state))
    if not answers(port):
        return {**state, "starting": True}
    return state


def await_server(root: str, run_id: str, timeout: float) -> dict[str, Any]:
    """Wait here, not over the link, until the new server answers (its state), or is seen to
    have ended or never to have started (``{}``)."""
    here = folder(root)
    lock = os.path.join(here, LOCK)
    deadline = time.monotonic() + timeout
    seen = False
    start_by = time.monotonic() + LOCK_WAIT_S
    while time.monotonic() < deadline:
        held = lock_is_held(lock)
        seen = seen or held
        if (seen and not held) or (not seen and time.monotonic() > start_by):
            return {}
        state = status(root, run_id) if held else {}
        if state and not state.get("starting"):
            return state
        time.sleep(0.1)
    return {"starting": True}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ``python -m jupyter_server``, under a process name the editor's port list leaves out: the
# kernel picker forwards the server itself, so offering its port would only be noise.
_SERVER_MAIN = """import ctypes, sys
try:
    ctypes.CDLL(None).prctl(15, b"colablink-jupy", 0, 0, 0)  # PR_SET_NAME
except (OSError, AttributeError):
    pass
from jupyter_server.serverapp import main
sys.exit(main())
"""


def serve(root: str) -> None:
    """Become the server: the lock is held by its process (inherited across exec) until it ends."""
    here = folder(root)
    setup = read_json(os.path.join(here, SETUP))
    python = setup.get("server_python")
    if not isinstance(python, str):
        raise Failure("The Jupyter environment is not set up; run `colablink jupyter` again.")
    lock = os.open(os.path.join(here, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        say("A Jupyter server already runs here.")
        sys.exit(0)
    os.set_inheritable(lock, True)
    port, token = free_port(), secrets.token_hex(24)
    state = {"port": port, "token": token, "pid": os.getpid(), "root": root, "started": time.time()}
    write_private(os.path.join(here, STATE), json.dumps(state))
    outputs = os.environ.get("COLABLINK_OUTPUT_DIR")
    if outputs:  # so a cell can write there straight away
        os.makedirs(outputs, exist_ok=True)
    env = server_env(root)
    env["JUPYTER_TOKEN"] = token  # not on the command line, which every user of the machine sees
    argv = [
        python,
        "-c",
        _SERVER_MAIN,
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={root}",
        "--KernelSpecManager.ensure_native_kernel=False",
        # Unix sockets in a 0700 folder, not TCP ports any user of the machine could reach.
        "--KernelManager.transport=ipc",
    ]
    os.execve(python, argv, env)  # noqa: S606 (the interpreter set up above)


def run_notebook(root: str, notebook: str, output: str) -> None:
    """Become ``notebook_runner.py`` on the server's interpreter, with the kernelspec's path."""
    ensure(root)
    here = folder(root)
    python = read_json(os.path.join(here, SETUP))["server_python"]
    os.makedirs(os.path.dirname(output), mode=0o700, exist_ok=True)
    runner = os.path.join(here, "notebook_runner.py")
    os.execve(python, [python, runner, notebook, output], server_env(root))  # noqa: S606


def stop(root: str) -> dict[str, Any]:
    """TERM to the server's process group (it shuts its kernels down), KILL after a while."""
    here = folder(root)
    lock = os.path.join(here, LOCK)
    state = read_json(os.path.join(here, STATE))
    pid = state.get("pid")
    if not lock_is_held(lock) or not isinstance(pid, int) or pid <= 1:
        return {"stopped": False}
    with contextlib.suppress(OSError):
        os.killpg(os.getpgid(pid), signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    while lock_is_held(lock) and time.monotonic() < deadline:
        time.sleep(0.1)
    if lock_is_held(lock):
        with contextlib.suppress(OSError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.unlink(os.path.join(here, STATE))
    return {"stopped": True}


def say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not os.path.isabs(argv[1]):
        say("usage: jupyter_env.py ensure|status|serve|stop|run-notebook ROOT [ARGS]")
        return 2
    command, root = argv[0], argv[1]
    try:
        if command == "ensure":
            answer = ensure(root)
        elif command == "status":
            answer = status(root, argv[2] if len(argv) > 2 else None)
        elif command == "await" and len(argv) == 4:
            answer = await_server(root, argv[2], float(argv[3]))
        elif command == "serve":
            serve(root)
            return 0
        elif command == "run-notebook" and len(argv) == 4:
            run_notebook(root, argv[2], argv[3])
            return 0
        elif command == "stop":
            answer = stop(root)
        else:
            say(f"unknown command {command!r}")
            return 2
    except Failure as exc:
        say(str(exc))
        return 3
    print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
