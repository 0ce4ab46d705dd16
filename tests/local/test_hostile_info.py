"""Hostile connection info through ``colablink init``: one sentence and exit 2, no traceback."""

from __future__ import annotations

import base64
import json

import pytest

from .conftest import Local

BASE = {"version": 1, "host": "h.example", "port": 22, "username": "u", "remote_root": "/content"}
HOSTILE = {
    "deep JSON": "[" * 100_000 + "]" * 100_000,
    "deep token": "clk1." + base64.urlsafe_b64encode(b"[" * 100_000 + b"]" * 100_000).decode(),
    "5000-digit port": json.dumps({**BASE, "port": "9" * 5000}),
    "wrong type": json.dumps({**BASE, "username": {"a": 1}}),
    "host with a newline": json.dumps({**BASE, "host": "h.example\n"}),
    "username with a newline": json.dumps({**BASE, "username": "u\n"}),
    "host that is an option": json.dumps({**BASE, "host": "-oProxyCommand=sh"}),
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_info_is_one_sentence_and_exit_2(local: Local, text: str) -> None:
    result = local.cli("init", input=text)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-500:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "not valid" in lines[0], result.stderr[-500:]
    assert local.files() == {}


def test_a_profile_name_with_a_newline_is_exit_2(local: Local) -> None:
    result = local.cli("--profile", "p\n", "init", input=json.dumps(BASE))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
