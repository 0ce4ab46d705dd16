"""SSH sessions see the runtime's PATH, LD_LIBRARY_PATH and NVIDIA_*/CUDA_* variables."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import RuntimeHandle, public_tempdir

from .sshclient import login_with_key, run

STAND_IN = """#!/bin/sh
# Stand-in nvidia-smi: answers the runtime's GPU query, otherwise shows what it was given.
case "$1" in
  --query-gpu=*) echo "Tesla T4, 15360"; exit 0 ;;
esac
printf 'LD_LIBRARY_PATH=%s\n' "$LD_LIBRARY_PATH"
printf 'NVIDIA_VISIBLE_DEVICES=%s\n' "$NVIDIA_VISIBLE_DEVICES"
printf 'CUDA_VERSION=%s\n' "$CUDA_VERSION"
"""
NOTEBOOK_ENV = {
    "LD_LIBRARY_PATH": "/usr/lib64-nvidia:/usr/local/cuda lib/with space",
    "NVIDIA_VISIBLE_DEVICES": "all",
    "CUDA_VERSION": '12.2 "quoted" back\\slash $HOME',
}
EXPECTED = [f"{name}={value}" for name, value in NOTEBOOK_ENV.items()]


@pytest.fixture
def gpu_bin() -> Iterator[Path]:
    directory = public_tempdir("colablink-gpu-")
    smi = directory / "nvidia-smi"
    smi.write_text(STAND_IN)
    smi.chmod(0o755)
    yield directory
    shutil.rmtree(directory)


def _check_session(handle: RuntimeHandle, gpu_bin: Path) -> None:
    assert handle.info["gpu"] == {"name": "Tesla T4", "memory_mib": 15360}
    transport = login_with_key(handle.port, handle.username, handle.client_key)
    try:
        # A plain exec (what ColabLink's exec uses) and a login shell (what `shell` opens).
        for command in ("nvidia-smi", "bash -lc nvidia-smi"):
            code, out, err = run(transport, command)
            assert code == 0, err
            assert out.splitlines() == EXPECTED, command
        code, out, _ = run(transport, "bash -lc 'echo $PATH'")
        assert str(gpu_bin) in out.strip().split(":")
    finally:
        transport.close()


def test_root_mode_sessions_get_notebook_environment(
    runtime_factory: Callable[..., RuntimeHandle],
    gpu_bin: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", f"{gpu_bin}:/usr/local/bin:/usr/bin:/bin")
    for name, value in NOTEBOOK_ENV.items():
        monkeypatch.setenv(name, value)
    _check_session(runtime_factory(), gpu_bin)


def test_user_mode_sessions_get_runtime_environment(
    runtime_factory: Callable[..., RuntimeHandle], gpu_bin: Path
) -> None:
    env = {"PATH": f"{gpu_bin}:/usr/local/bin:/usr/bin:/bin", **NOTEBOOK_ENV}
    handle = runtime_factory(user_mode=True, env=env)
    transport = login_with_key(handle.port, handle.username, handle.client_key)
    try:
        code, out, err = run(transport, "nvidia-smi")
        assert (code, out.splitlines()) == (0, EXPECTED), err
    finally:
        transport.close()
    assert handle.info["gpu"] == {"name": "Tesla T4", "memory_mib": 15360}
