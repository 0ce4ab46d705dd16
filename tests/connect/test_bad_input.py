"""User mistakes give one sentence, a non-zero exit and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from colablink.local.profiles import ProfileStore
from support.system import free_port

from .conftest import Setup, make_profile


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "colablink", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_sentence(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("colablink: ")
    assert words in lines[0]


@pytest.fixture
def empty_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "COLABLINK_CONFIG_DIR": str(tmp_path / "config"),
        "COLABLINK_RUNTIME_DIR": str(tmp_path / "run"),
    }


@pytest.mark.parametrize("verb", [["exec", "true"], ["status"], ["watch"], ["shell"]])
def test_no_profile_yet(empty_env: dict[str, str], verb: list[str]) -> None:
    assert_one_sentence(run(empty_env, *verb), "no ColabLink profile yet")


def test_unknown_profile(live: Setup) -> None:
    for args in (["--profile", "nope", "exec", "true"], ["exec", "--profile", "nope", "true"]):
        assert_one_sentence(run(live.env, *args), "no profile named 'nope'")


def test_several_profiles_need_a_choice(live: Setup, tmp_path: Path) -> None:
    env = {**live.env, "COLABLINK_CONFIG_DIR": str(tmp_path / "config")}
    os.environ["COLABLINK_CONFIG_DIR"] = env["COLABLINK_CONFIG_DIR"]
    try:
        for name in ("one", "two"):
            ProfileStore().save(make_profile(live.runtime, tmp_path, name=name))
    finally:
        os.environ["COLABLINK_CONFIG_DIR"] = live.env["COLABLINK_CONFIG_DIR"]
    assert_one_sentence(run(env, "exec", "true"), "choose one with --profile")
    assert run(env, "--profile", "two", "exec", "true").returncode == 0


def test_unreachable_runtime(live: Setup, tmp_path: Path) -> None:
    env = {**live.env, "COLABLINK_CONFIG_DIR": str(tmp_path / "config")}
    os.environ["COLABLINK_CONFIG_DIR"] = env["COLABLINK_CONFIG_DIR"]
    try:
        ProfileStore().save(make_profile(live.runtime, tmp_path, name="gone", port=free_port()))
    finally:
        os.environ["COLABLINK_CONFIG_DIR"] = live.env["COLABLINK_CONFIG_DIR"]
    for verb in (["exec", "true"], ["watch"], ["upload", str(tmp_path)]):
        assert_one_sentence(run(env, *verb), "is the runtime up?")
    status = run(env, "status")
    assert status.returncode == 1
    assert "reachable  no: Cannot connect" in status.stdout
    assert "Traceback" not in status.stderr


def test_exec_without_a_command(live: Setup) -> None:
    assert_one_sentence(run(live.env, "exec"), "Give a command to run")
    assert_one_sentence(run(live.env, "exec", "--"), "Give a command to run")


def test_upload_of_a_missing_file(live: Setup, tmp_path: Path) -> None:
    assert_one_sentence(run(live.env, "upload", str(tmp_path / "missing")), "does not exist")
