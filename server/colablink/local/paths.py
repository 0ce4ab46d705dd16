"""Where ColabLink keeps its local files: config (profiles, keys, known_hosts), sockets, ssh config.

Every function returns an absolute path, because OpenSSH and child processes may run with another
working directory, and OpenSSH expands ``~`` from the passwd entry rather than ``$HOME``.
"""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

import platformdirs

from colablink.errors import ColabLinkError

APP_NAME = "colablink"


def config_dir() -> Path:
    """The directory holding profiles, keys and ColabLink's own known_hosts (not created here)."""
    override = os.environ.get("COLABLINK_CONFIG_DIR")
    if override:
        return Path(override).expanduser().absolute()
    return Path(platformdirs.user_config_dir(APP_NAME)).absolute()


def runtime_dir() -> Path:
    """The per-user directory for sockets and pid files, created 0700 if missing."""
    override = os.environ.get("COLABLINK_RUNTIME_DIR")
    path = Path(override).expanduser().absolute() if override else _platform_runtime_dir()
    ensure_private_dir(path)
    return path


def _platform_runtime_dir() -> Path:
    """The platform's runtime dir, or a private one under the config dir when that is not ours.

    Without ``XDG_RUNTIME_DIR`` platformdirs falls back to ``/tmp/runtime-<uid>``, which another
    local user may have made first: newer platformdirs raise then, older ones hand it back.
    """
    fallback = config_dir() / "run"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the warning about the unset variable, once per run
            path = Path(platformdirs.user_runtime_dir(APP_NAME)).absolute()
    except PermissionError:
        return fallback
    return path if _nobody_else_can_replace(path.parent) else fallback


def _nobody_else_can_replace(parent: Path) -> bool:
    try:
        info = parent.lstat()
    except FileNotFoundError:
        return True  # made below, by us
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return False
    if not hasattr(os, "getuid"):
        return True
    sticky = info.st_mode & stat.S_ISVTX
    return info.st_uid in (os.getuid(), 0) and bool(sticky or not info.st_mode & 0o022)


def ssh_config_path(override: str | os.PathLike[str] | None = None) -> Path:
    """The ssh config to manage: ``override``, else ``$COLABLINK_SSH_CONFIG``, else ~/.ssh/config"""
    chosen = override or os.environ.get("COLABLINK_SSH_CONFIG")
    if chosen:
        return Path(chosen).expanduser().absolute()
    return Path.home() / ".ssh" / "config"


def user_known_hosts_path() -> Path:
    """The user's own OpenSSH known_hosts, consulted (never written) for ``init --ssh``."""
    return Path.home() / ".ssh" / "known_hosts"


def profiles_dir() -> Path:
    return config_dir() / "profiles"


def keys_dir() -> Path:
    return config_dir() / "keys"


def known_hosts_path() -> Path:
    """ColabLink's own known_hosts file, named by every managed ``Host`` block."""
    return config_dir() / "known_hosts"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make the leaf 0700; refuse a leaf owned by someone else."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = path.lstat()
    except OSError as exc:
        raise ColabLinkError(f"Cannot create {path} ({exc.strerror or exc}).") from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise ColabLinkError(f"{path} should be a directory but is not; move it out of the way.")
    # Windows has no uids; there the user profile directory is private already.
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise ColabLinkError(f"{path} belongs to another user; ColabLink keeps it private to you.")
    if stat.S_IMODE(info.st_mode) != 0o700:
        path.chmod(0o700)
    return path
