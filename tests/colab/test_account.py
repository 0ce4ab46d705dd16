"""What the account side of Google's client says, read at the process boundary."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from colablink.enroll import colab_account
from colablink.errors import UsageError


def fake_client(tmp_path: Path, body: str) -> Path:
    cli = tmp_path / "colab"
    cli.write_text(f"#!{sys.executable}\nimport sys\n{body}\n")
    cli.chmod(0o755)
    return cli


def test_usage_reads_balance_and_rate_and_is_none_when_the_client_cannot_say(
    tmp_path: Path,
) -> None:
    said = fake_client(tmp_path, 'print("Current balance: 7.25 units\\nUsage rate: 0.5/hr")')
    assert colab_account.usage(said) == colab_account.Usage(7.25, 0.5)
    failed = fake_client(tmp_path, 'sys.exit("[colab] Warning: failed to fetch compute-unit info")')
    assert colab_account.usage(failed) is None


def test_an_unknown_accelerator_is_one_sentence_naming_the_choices() -> None:
    assert colab_account.accelerator_flag("A100") == ("gpu", "A100")
    assert colab_account.accelerator_flag("v5e1") == ("tpu", "v5e1")
    with pytest.raises(UsageError, match=r"no accelerator 'K80'; choose one of T4, L4"):
        colab_account.accelerator_flag("K80")


def test_the_session_of_a_profile_comes_from_its_proxy_command() -> None:
    argv = ("/opt/colab", "ssh", "--proxy-mode", "-s", "train", "-i", "/k")
    assert colab_account.session_of(argv) == (Path("/opt/colab"), "train")
    assert colab_account.session_of(("cloudflared", "access", "ssh")) is None
    assert colab_account.session_of(None) is None
