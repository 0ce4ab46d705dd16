"""The remote command line: quoted once, cwd and env applied. Checked by a real local shell."""

from __future__ import annotations

import subprocess

import pytest
from colablink.errors import UsageError
from colablink.ssh.remote_exec import command_line

HOSTILE = ["a b", "it's", "$HOME", ";rm -rf x", "*", "", "ünï", '"q"', "back\\slash", "new\nline"]


def sh(line: str) -> str:
    return subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=True).stdout


def test_argv_words_reach_the_program_exactly() -> None:
    out = sh(command_line(["printf", "%s\\0", *HOSTILE]))
    assert out.split("\0")[:-1] == HOSTILE


def test_single_argument_with_spaces_is_a_shell_line() -> None:
    assert sh(command_line(["printf 'x\\n' | wc -l"])).strip() == "1"
    assert sh(command_line("echo a; echo b")) == "a\nb\n"


def test_single_word_is_a_program() -> None:
    assert command_line(["ls"]) == "exec ls"


def test_cwd_and_env_apply() -> None:
    line = command_line(["sh", "-c", 'pwd; printf %s "$V"'], cwd="/tmp", env={"V": "x 'y' $z"})
    assert sh(line) == "/tmp\nx 'y' $z"
    assert sh(command_line("pwd", cwd="/")) == "/\n"


def test_missing_cwd_fails_without_running() -> None:
    proc = subprocess.run(
        ["sh", "-c", command_line(["echo", "ran"], cwd="/nonexistent-dir")], capture_output=True
    )
    assert proc.returncode == 1 and proc.stdout == b""


@pytest.mark.parametrize("bad", [[], [""], "  "])
def test_empty_command_is_a_usage_error(bad: list[str] | str) -> None:
    with pytest.raises(UsageError):
        command_line(bad)


def test_bad_env_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not a valid environment variable name"):
        command_line(["true"], env={"A;rm": "1"})
