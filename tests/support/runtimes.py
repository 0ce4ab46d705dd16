"""Real runtimes for tests: root mode in this process, user mode as a throwaway account."""

from __future__ import annotations

import json
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from colablink_runtime.errors import PortInUse, RuntimeSetupError
from colablink_runtime.runtime import ColabRuntime

from .accounts import create_account, remove_account, unique_name
from .keys import make_client_key
from .system import STATE_DIRS, free_port, pids_of_user, public_tempdir, spawn_as

RUNTIME_PACKAGE = Path(__file__).resolve().parents[2] / "colab" / "colablink_runtime"
PORT_ATTEMPTS = 8


class RuntimeControl(Protocol):
    def setup(self) -> dict[str, Any]: ...

    def teardown(self) -> None: ...


@dataclass
class RuntimeHandle:
    """A running runtime and what a test needs to reach it."""

    info: dict[str, Any]
    runtime: RuntimeControl
    username: str
    remote_root: str
    port: int
    password: str | None
    client_key: Path
    state_dir: Path
    host: str = "127.0.0.1"
    user_mode: bool = False
    _cleanup: list[Path] = field(default_factory=list, repr=False)
    _account: str | None = field(default=None, repr=False)

    @property
    def host_keys(self) -> list[str]:
        keys: list[str] = self.info["host_keys"]
        return keys

    def __enter__(self) -> RuntimeHandle:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Tear the runtime down and remove everything made for it."""
        try:
            if isinstance(self.runtime, ColabRuntime):
                self.runtime.teardown(remove=True)
            elif isinstance(self.runtime, UserRuntimeProcess):
                self.runtime.close()
        finally:
            if self._account is not None:
                remove_account(self._account)
            elif pids_of_user(self.username):
                remove_account(self.username)
            for path in self._cleanup:
                shutil.rmtree(path, ignore_errors=True)


def _client_key_dir() -> tuple[Path, Path, str]:
    directory = Path(tempfile.mkdtemp(prefix="colablink-client-"))
    key = directory / "id_ed25519"
    return directory, key, make_client_key(key)


def start_root_runtime(**kwargs: Any) -> RuntimeHandle:
    """A root-mode runtime: unique dedicated user, fresh remote_root it owns, free port."""
    username = kwargs.pop("username", None) or unique_name("clt")
    base = public_tempdir("colablink-rt-")
    remote_root = kwargs.pop("remote_root", None) or str(base / "work")
    key_dir, key, public = _client_key_dir()
    extra = kwargs.pop("authorized_keys", None) or []
    kwargs.setdefault("tunnel", "none")
    fixed_port = kwargs.pop("port", None)
    last_error: Exception | None = None
    for _ in range(1 if fixed_port else PORT_ATTEMPTS):
        port = fixed_port or free_port()
        runtime = ColabRuntime(
            username=username,
            remote_root=remote_root,
            port=port,
            authorized_keys=[public, *extra],
            **kwargs,
        )
        STATE_DIRS.append(runtime.state_dir)
        try:
            info = runtime.setup()
        except PortInUse as exc:
            runtime.teardown(remove=True)
            last_error = exc
            continue
        except BaseException:
            runtime.teardown(remove=True)
            shutil.rmtree(base, ignore_errors=True)
            shutil.rmtree(key_dir, ignore_errors=True)
            raise
        return RuntimeHandle(
            info=info,
            runtime=runtime,
            username=username,
            remote_root=remote_root,
            port=port,
            password=info["password"],
            client_key=key,
            state_dir=runtime.state_dir,
            _cleanup=[base, key_dir],
        )
    shutil.rmtree(base, ignore_errors=True)
    shutil.rmtree(key_dir, ignore_errors=True)
    raise AssertionError(f"no free port for a runtime after {PORT_ATTEMPTS} tries: {last_error}")


class UserRuntimeProcess:
    """Drives ``user_runtime_main`` running as the throwaway account."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc

    def _request(self, command: str | None) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if command is not None:
            self.proc.stdin.write(f"{command}\n".encode())
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"user-mode runtime exited with {self.proc.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def first_answer(self) -> dict[str, Any]:
        return self._request(None)

    def setup(self) -> dict[str, Any]:
        answer = self._request("setup")
        if "error" in answer:
            raise RuntimeSetupError(answer["error"])
        info: dict[str, Any] = answer["info"]
        return info

    def teardown(self) -> None:
        self._request("teardown")

    def heartbeat(self) -> dict[str, Any]:
        return self._request("heartbeat")

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _public_runtime_package() -> Path:
    """A copy of the runtime package the throwaway account can import (the repo may be 0700)."""
    base = public_tempdir("colablink-pkg-")
    shutil.copytree(
        RUNTIME_PACKAGE, base / "colablink_runtime", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(Path(__file__).with_name("user_runtime_main.py"), base / "user_runtime_main.py")
    for path in base.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return base


def start_user_runtime(env: dict[str, str] | None = None, **kwargs: Any) -> RuntimeHandle:
    """A user-mode runtime run by a fresh unprivileged account, authorizing a new client key."""
    account = create_account("cltu")
    home = Path(pwd.getpwnam(account).pw_dir)
    package = _public_runtime_package()
    key_dir, key, public = _client_key_dir()
    cleanup = [package, key_dir]
    try:
        remote_root = kwargs.pop("remote_root", None) or str(home / "work")
        extra = kwargs.pop("authorized_keys", None) or []
        fixed_port = kwargs.pop("port", None)
        kwargs.setdefault("tunnel", "none")
        for _ in range(1 if fixed_port else PORT_ATTEMPTS):
            port = fixed_port or free_port()
            options = {
                **kwargs,
                "remote_root": remote_root,
                "port": port,
                "authorized_keys": [public, *extra],
            }
            proc = spawn_as(
                account,
                ["/usr/bin/python3", str(package / "user_runtime_main.py"), json.dumps(options)],
                {"PYTHONPATH": str(package), **(env or {})},
            )
            control = UserRuntimeProcess(proc)
            answer = control.first_answer()
            if "info" in answer:
                return RuntimeHandle(
                    info=answer["info"],
                    runtime=control,
                    username=account,
                    remote_root=remote_root,
                    port=port,
                    password=None,
                    client_key=key,
                    state_dir=home / ".local" / "state" / "colablink-runtime",
                    user_mode=True,
                    _cleanup=cleanup,
                    _account=account,
                )
            control.close()
            if not answer.get("port_in_use"):
                raise RuntimeSetupError(answer["error"])
        raise AssertionError(f"no free port for a user-mode runtime after {PORT_ATTEMPTS} tries")
    except BaseException:
        remove_account(account)
        for path in cleanup:
            shutil.rmtree(path, ignore_errors=True)
        raise
