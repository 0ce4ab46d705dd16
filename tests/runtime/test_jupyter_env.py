"""The runtime's Jupyter installer where it cannot work: one sentence saying what to install."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from colablink_runtime import jupyter_env


def test_a_python_without_venv_gets_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ensurepip", None)  # as on Debian without python3-venv
    monkeypatch.setattr(jupyter_env, "has_packages", lambda python: False)
    assert jupyter_env.main(["ensure", str(tmp_path)]) == 3
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == jupyter_env.NO_VENV + "\n"
    assert "apt-get install python3-venv" in out.err
    assert not (tmp_path / ".colablink" / "jupyter-env").exists()


def test_a_relative_root_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert jupyter_env.main(["status", "work"]) == 2
    assert "usage" in capsys.readouterr().err
