"""``ColabRuntime``: turn this machine (a Colab VM or any Linux box) into ColabLink's SSH host.

As root it creates a dedicated non-root user with a password and runs its own sshd for that user.
Without root ("user mode") sshd runs as the current user on an unprivileged port and accepts keys
only, since a non-root sshd cannot check passwords.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from colablink_runtime import accounts, login_env, procs, sshd, supervisor
from colablink_runtime.errors import RuntimeSetupError
from colablink_runtime.gpu import detect_gpu
from colablink_runtime.info import INFO_VERSION
from colablink_runtime.tunnels import TUNNEL_NAMES, Tunnel, make_tunnel

_SYSTEM_DIRS = {"/", "/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/root", "/sbin", "/sys"}
_SYSTEM_DIRS |= {"/usr", "/var", "/home", "/run", "/tmp"}  # noqa: S108 (refused, not used)


class ColabRuntime:
    """The runtime: ``setup()`` returns the connection info, ``keep_alive()`` blocks,
    ``teardown()`` stops everything.

    ``password`` (root mode only) defaults to a random one; ``authorized_keys`` are public key
    lines allowed besides the user's own ``~/.ssh/authorized_keys``; ``tunnel`` is "ngrok" (needs
    ``ngrok_token``) or "none"; ``state_dir`` holds sshd's config, host keys, pid file and log.
    """

    def __init__(
        self,
        password: str | None = None,
        ngrok_token: str | None = None,
        username: str = "colablink",
        remote_root: str = "/content",
        port: int = 22,
        tunnel: str = "ngrok",
        authorized_keys: str | Sequence[str] | None = None,
        *,
        listen_address: str = "127.0.0.1",
        state_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.root_mode = os.geteuid() == 0
        if tunnel not in TUNNEL_NAMES:
            raise RuntimeSetupError(
                f"Unknown tunnel {tunnel!r}; choose one of: {', '.join(TUNNEL_NAMES)}."
            )
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise RuntimeSetupError(f"The port must be a number from 1 to 65535, not {port!r}.")
        if self.root_mode:
            accounts.check_username(username)
        else:
            current = pwd.getpwuid(os.geteuid()).pw_name
            if username not in ("colablink", current):
                raise RuntimeSetupError(
                    f"Without root the runtime serves the current user {current!r}, "
                    f"not {username!r}; run as root to use a dedicated user."
                )
            if password is not None:
                raise RuntimeSetupError(
                    "Without root sshd cannot check passwords; pass authorized_keys instead."
                )
            if port < 1024:
                raise RuntimeSetupError(
                    f"Without root the runtime needs a port above 1023, not {port}."
                )
            username = current
        if not remote_root.startswith("/"):
            raise RuntimeSetupError(f"remote_root must be an absolute path, not {remote_root!r}.")
        self.username = username
        self.password = (password or secrets.token_urlsafe(18)) if self.root_mode else None
        self.remote_root = remote_root.rstrip("/") or "/"
        self.port = port
        self.tunnel_name = tunnel
        self.listen_address = listen_address
        self.authorized_keys = _key_lines(authorized_keys)
        self.state_dir = Path(state_dir) if state_dir is not None else _default_state_dir(username)
        self._ngrok_token = ngrok_token
        self._tunnel: Tunnel | None = None
        self._sshd: subprocess.Popen[bytes] | None = None
        self._created_user = False
        self._created_dirs: list[Path] = []
        self._created_parents: list[Path] = []
        self._info: dict[str, Any] | None = None

    @property
    def config_path(self) -> Path:
        return self.state_dir / "sshd_config"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "sshd.pid"

    @property
    def info(self) -> dict[str, Any] | None:
        """The connection info of the last successful setup()."""
        return self._info

    def setup(self) -> dict[str, Any]:
        """Make the machine reachable over SSH and return the connection info (idempotent)."""
        sshd_path = sshd.ensure_sshd(sshd.SSHD_PATH)
        if self.root_mode:
            self._created_user = accounts.ensure_user(self.username) or self._created_user
            assert self.password is not None
            accounts.set_password(self.username, self.password)
        account = pwd.getpwnam(self.username)
        self._prepare_remote_root(account)
        self._make_dir(self.state_dir, 0o755 if self.root_mode else 0o700)
        host_keys = sshd.ensure_host_keys(self.state_dir)
        authorized = self.state_dir / "authorized_keys"
        authorized.write_text("".join(f"{line}\n" for line in self.authorized_keys))
        authorized.chmod(0o644)
        env = login_env.session_environment(os.environ)
        if self.root_mode:
            _install_profile_env(account, env)

        self._stop_sshd()
        config = sshd.SshdConfig(
            port=self.port,
            listen_address=self.listen_address,
            username=self.username,
            host_keys=host_keys,
            pid_file=self.pid_file,
            authorized_keys=authorized,
            password_auth=self.root_mode,
            setenv_line=login_env.sshd_setenv_line(env),
        )
        self.config_path.write_text(config.render())
        if self.root_mode:
            # sshd's privilege separation needs this directory; Colab images lack it.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        log = self.state_dir / "sshd.log"
        self._sshd = sshd.start_sshd(sshd_path, self.config_path, log, self.port)

        if self._tunnel is not None:
            self._tunnel.close()
        self._tunnel = make_tunnel(
            self.tunnel_name,
            listen_address=self.listen_address,
            token=self._ngrok_token,
            state_dir=self.state_dir,
        )
        try:
            host, port = self._tunnel.open(self.port)
        except BaseException:
            self._stop_sshd()
            raise
        self._info = {
            "version": INFO_VERSION,
            "host": host,
            "port": port,
            "username": self.username,
            "password": self.password,
            "remote_root": self.remote_root,
            "host_keys": sshd.public_host_keys(host_keys),
            "gpu": detect_gpu(),
        }
        return dict(self._info)

    def session_count(self) -> int:
        """Connected SSH sessions: sshd forks one child per connection."""
        pid = self._sshd_pid()
        return 0 if pid is None else len(procs.children_of(pid))

    def heartbeat(self) -> str:
        stamp = time.strftime("%H:%M:%S")
        if self._sshd_pid() is None:
            return f"[{stamp}] ColabLink runtime: sshd is not running; run setup() again."
        count = self.session_count()
        plural = "" if count == 1 else "s"
        runs = supervisor.runs_in_progress(
            f"{self.remote_root.rstrip('/')}/{supervisor.RUNS_FOLDER}"
        )
        work = "" if not runs else f"; {runs} run{'' if runs == 1 else 's'} in progress"
        return f"[{stamp}] ColabLink runtime up: {count} SSH session{plural} connected{work}."

    def keep_alive(self, interval: float = 60.0) -> None:
        """Block (a running cell keeps Colab from idling) and print a heartbeat every interval."""
        try:
            while True:
                print(self.heartbeat(), flush=True)
                time.sleep(interval)
        except KeyboardInterrupt:
            print("Keep-alive stopped; the runtime keeps serving until teardown().", flush=True)

    def teardown(self, *, remove: bool = False) -> None:
        """Close the tunnel, stop sshd and end every session; ``remove`` also deletes what setup
        created (the user, its state directory, a remote_root it made)."""
        if self._tunnel is not None:
            self._tunnel.close()
            self._tunnel = None
        stopped = self._stop_sshd()
        if self.root_mode and accounts.exists(self.username):
            uid = pwd.getpwnam(self.username).pw_uid
            # Sessions outlive the listener; only ending the user's processes closes them.
            for _ in range(5):
                left = procs.end_processes(procs.pids_of_uid(uid))
                if not left and not procs.pids_of_uid(uid):
                    break
        deadline = time.monotonic() + 5
        while stopped and not procs.port_is_free(self.port, self.listen_address):
            if time.monotonic() > deadline:
                raise RuntimeSetupError(f"Port {self.port} is still in use after teardown.")
            time.sleep(0.05)
        if remove:
            if self._created_user:
                accounts.delete_user(self.username)
                self._created_user = False
            for path in reversed(self._created_dirs):
                shutil.rmtree(path, ignore_errors=True)
            self._created_dirs.clear()
            # Parents it had to make too are removed only once empty: another runtime on this
            # machine may keep its own state beside ours (/var/lib/colablink-runtime/<user>).
            for path in self._created_parents:
                with contextlib.suppress(OSError):
                    path.rmdir()
            self._created_parents.clear()

    def _sshd_pid(self) -> int | None:
        if self._sshd is not None and self._sshd.poll() is None:
            return self._sshd.pid
        return sshd.recorded_sshd(self.pid_file, self.config_path)

    def _stop_sshd(self) -> bool:
        """Stop our listener and its sessions; True when one was running."""
        pid = self._sshd_pid()
        if pid is not None:
            procs.end_processes([pid, *procs.descendants_of(pid)])
        if self._sshd is not None:
            self._sshd.wait()
            self._sshd = None
        self.pid_file.unlink(missing_ok=True)
        return pid is not None

    def _make_dir(self, path: Path, mode: int) -> None:
        missing = [p for p in (path, *path.parents) if not p.exists()]
        path.mkdir(parents=True, exist_ok=True, mode=mode)
        path.chmod(mode)
        if missing:
            self._created_dirs.append(path)
            self._created_parents.extend(missing[1:])  # deepest first

    def _prepare_remote_root(self, account: pwd.struct_passwd) -> None:
        root = Path(self.remote_root)
        if str(root.resolve()) in _SYSTEM_DIRS:
            raise RuntimeSetupError(f"remote_root cannot be the system directory {root}.")
        try:
            self._make_dir(root, 0o755)
            if self.root_mode:
                os.chown(root, account.pw_uid, account.pw_gid, follow_symlinks=False)
        except OSError as exc:
            raise RuntimeSetupError(
                f"Cannot prepare remote_root {root} ({exc.strerror}); choose a directory you "
                "can write to."
            ) from None


def _key_lines(keys: str | Sequence[str] | None) -> list[str]:
    if keys is None:
        return []
    lines = keys.splitlines() if isinstance(keys, str) else list(keys)
    result = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "\n" in line or len(line.split()) < 2:
            raise RuntimeSetupError(
                f"{line[:30]!r} is not an OpenSSH public key line (type, base64, comment)."
            )
        result.append(line)
    return result


def _default_state_dir(username: str) -> Path:
    if os.geteuid() == 0:
        # Not under /tmp: sshd's StrictModes rejects key files below a world-writable directory.
        return Path("/var/lib/colablink-runtime") / username
    home = Path(pwd.getpwuid(os.geteuid()).pw_dir)
    state_home = os.environ.get("XDG_STATE_HOME") or str(home / ".local" / "state")
    return Path(state_home) / "colablink-runtime"


def _install_profile_env(account: pwd.struct_passwd, env: dict[str, str]) -> None:
    """Login shells reset PATH in /etc/profile, so ~/.profile restores the runtime's values."""
    home = Path(account.pw_dir)
    _write_user_file(home / ".colablink_env", login_env.profile_script(env), account)
    profile = home / ".profile"
    try:
        fd = os.open(profile, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd) as handle:
            current = handle.read()
    except FileNotFoundError:
        current = ""
    except OSError:
        return  # a symlink the user put there: leave their shell setup alone
    if login_env.PROFILE_HOOK not in current:
        separator = "\n" if current and not current.endswith("\n") else ""
        _write_user_file(profile, f"{current}{separator}{login_env.PROFILE_HOOK}\n", account)


def _write_user_file(path: Path, text: str, account: pwd.struct_passwd) -> None:
    """Root writes into the user's home by renaming a fresh file into place, so a symlink the
    user planted there is replaced rather than followed."""
    temp = path.with_name(f".{path.name}.colablink-{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as handle:
        os.fchown(handle.fileno(), account.pw_uid, account.pw_gid)
        handle.write(text)
    temp.replace(path)
