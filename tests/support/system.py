"""Small process, port and account-switching helpers for tests."""

from __future__ import annotations

import atexit
import functools
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sysconfig
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from colablink_runtime import procs

T = TypeVar("T")

# Set in every process a test starts, so the end-of-session check can tell ours from others'.
SESSION_MARKER = "COLABLINK_TEST_SESSION"
# State directories of runtimes tests started; their sshd command lines name them.
STATE_DIRS: list[Path] = []


def free_port() -> int:
    """A TCP port nobody listens on right now (callers retry if it gets taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.02) -> T:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


def pids_of_user(username: str) -> list[int]:
    """Live (non-zombie) processes running as ``username``; empty if the account is gone."""
    try:
        uid = pwd.getpwnam(username).pw_uid
    except KeyError:
        return []
    return procs.pids_of_uid(uid)


def public_tempdir(prefix: str = "colablink-test-") -> Path:
    """A fresh 0755 directory that unprivileged test accounts can read and traverse."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


REPO = Path(__file__).resolve().parents[2]


def _world_readable(path: Path) -> bool:
    """Whether any account can read ``path``: every ancestor traversable, the path readable."""
    mode = path.stat().st_mode
    if not mode & stat.S_IROTH or not mode & stat.S_IXOTH:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)


@functools.cache
def foreign_pythonpath() -> str:
    """A PYTHONPATH with the project's sources and the test venv's packages that any account reads.

    A checkout under a 0700 directory (``mktemp -d``, /root) is out of a test account's reach; then
    the code is copied once per session into a public directory, removed when the session ends.
    """
    sources = [REPO / "server", REPO / "colab"]
    site = Path(sysconfig.get_paths()["purelib"])
    if all(_world_readable(path) for path in [*sources, site]):
        return ":".join(str(path) for path in [*sources, site])
    copy = public_tempdir("colablink-pythonpath-")
    atexit.register(shutil.rmtree, copy, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "server" / "colablink", copy / "src" / "colablink", ignore=ignore)
    shutil.copytree(
        REPO / "colab" / "colablink_runtime", copy / "src" / "colablink_runtime", ignore=ignore
    )
    shutil.copytree(site, copy / "site", symlinks=True, ignore=ignore)
    for directory in copy.rglob("*"):
        if directory.is_dir() and not directory.is_symlink():
            directory.chmod(0o755)
    return f"{copy / 'src'}:{copy / 'site'}"


def user_env(username: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    account = pwd.getpwnam(username)
    base = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": account.pw_dir,
        "USER": username,
        "LOGNAME": username,
        "LANG": "C.UTF-8",
        SESSION_MARKER: os.environ.get(SESSION_MARKER, ""),
    }
    return {**base, **(env or {})}


def _as_user_argv(username: str, argv: Sequence[str]) -> list[str]:
    account = pwd.getpwnam(username)
    return [
        "setpriv",
        f"--reuid={account.pw_uid}",
        f"--regid={account.pw_gid}",
        "--init-groups",
        "--",
        *argv,
    ]


def run_as(
    user: str,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    input: bytes | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` to completion as ``user`` (env: a minimal login env plus ``env``)."""
    return subprocess.run(
        _as_user_argv(user, argv),
        env=user_env(user, env),
        cwd=pwd.getpwnam(user).pw_dir,
        input=input,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def spawn_as(
    user: str, argv: Sequence[str], env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` as ``user`` with pipes on stdin and stdout; the caller reaps it."""
    return subprocess.Popen(
        _as_user_argv(user, argv),
        env=user_env(user, env),
        cwd=pwd.getpwnam(user).pw_dir,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
