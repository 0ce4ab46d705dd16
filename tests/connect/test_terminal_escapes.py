"""Nothing from the runtime reaches the terminal raw: a fake nvidia-smi cannot retitle it."""

from __future__ import annotations

import shlex

from .conftest import Setup

# The attacker's ~/.bashrc (first, before Debian's non-interactive return): nvidia-smi answers
# with a GPU name carrying an OSC title sequence and a bidi override.
FAKE = "nvidia-smi() { printf 'Tesla\\033]0;pwned\\007T4\\342\\200\\256, 15360, 100, 5\\n'; }"


def test_a_hostile_gpu_name_is_printed_escaped(live: Setup) -> None:
    # Written by the runtime user itself, as code running there would.
    plant = f"{{ echo {shlex.quote(FAKE)}; cat ~/.bashrc; }} > ~/.rc && mv ~/.rc ~/.bashrc"
    assert live.cli("exec", plant).returncode == 0
    result = live.cli("status")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out, repr(out)
    assert "Tesla\\x1b]0;pwned\\x07T4\\u202e, 15360 MiB" in out, out
