"""Colab sessions and compute units, as Google's ``colab`` client knows them.

The session list and each session's accelerator come from the client's own state file (no call to
Google). ``colab new``, ``colab usage`` and ``colab stop`` run the client, which talks to Google's
account APIs; none of them prints JSON, so ``usage`` reads its labelled lines.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from colablink.errors import ColabLinkError, UsageError

GPUS = ("T4", "L4", "G4", "A100", "H100")
TPUS = ("v5e1", "v6e1")
# `colab new` waits for Google to assign a machine; a GPU can take minutes.
NEW_TIMEOUT_S = 600.0
USAGE_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 120.0

_BALANCE = re.compile(r"Current balance:\s*(-?\d+(?:\.\d+)?)")
_RATE = re.compile(r"Usage rate:\s*(-?\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class ColabSession:
    name: str
    # What ``colab new`` asked for: "T4", "A100", "V5E1"…, or "NONE" for a CPU runtime.
    accelerator: str


@dataclass(frozen=True)
class Usage:
    balance: float
    rate_per_hour: float


def state_file(env: Mapping[str, str] | None = None) -> Path:
    home = Path((os.environ if env is None else env).get("HOME", "~")).expanduser()
    return home / ".config" / "colab-cli" / "sessions.json"


def sessions(env: Mapping[str, str] | None = None) -> list[ColabSession]:
    """The sessions in the client's state file, by name."""
    path = state_file(env)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        raise ColabLinkError(f"Cannot read the colab client's sessions ({path}).") from None
    if not isinstance(data, dict):
        return []
    found = []
    for name, entry in data.items():
        accelerator = entry.get("accelerator") if isinstance(entry, dict) else None
        found.append(ColabSession(str(name), str(accelerator or "NONE")))
    return sorted(found, key=lambda s: s.name)


def accelerator_flag(accelerator: str) -> tuple[str, str]:
    """``colab new``'s flag for "T4" (``--gpu``) or "v5e1" (``--tpu``)."""
    if accelerator in GPUS:
        return ("gpu", accelerator)
    if accelerator in TPUS:
        return ("tpu", accelerator)
    choices = ", ".join((*GPUS, *TPUS))
    raise UsageError(f"Colab has no accelerator {accelerator!r}; choose one of {choices}.")


def create(cli: Path, name: str, accelerator: tuple[str, str] | None, *, show_output: bool) -> str:
    """``colab new -s NAME``; its output goes to the terminal or comes back for the log."""
    argv = [str(cli), "new", "-s", name]
    if accelerator is not None:
        argv += [f"--{accelerator[0]}", accelerator[1]]
    try:
        done = subprocess.run(
            argv, check=False, timeout=NEW_TIMEOUT_S, text=True, capture_output=not show_output,
            # In a terminal the client may ask something; in the editor nobody can answer.
            stdin=None if show_output else subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ColabLinkError(f"`colab new -s {name}` did not finish in 10 minutes.") from None
    output = "" if show_output else f"{done.stdout}{done.stderr}"
    if done.returncode != 0 or name not in {s.name for s in sessions()}:
        where = "see its output above" if show_output else _last_line(output)
        raise ColabLinkError(
            f"`colab new -s {name}` did not create the session (exit {done.returncode}); {where}."
        )
    return output


def usage(cli: Path) -> Usage | None:
    """The account's compute-unit balance and hourly rate; None where ``colab usage`` cannot say."""
    try:
        done = subprocess.run(
            [str(cli), "usage"], check=False, timeout=USAGE_TIMEOUT_S, text=True,
            capture_output=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    balance, rate = _BALANCE.search(done.stdout), _RATE.search(done.stdout)
    if done.returncode != 0 or balance is None or rate is None:
        return None
    return Usage(float(balance.group(1)), float(rate.group(1)))


def stop(cli: Path, name: str) -> None:
    """``colab stop -s NAME``: the runtime is released and stops costing units."""
    try:
        done = subprocess.run(
            [str(cli), "stop", "-s", name], check=False, timeout=STOP_TIMEOUT_S, text=True,
            capture_output=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ColabLinkError(f"`colab stop -s {name}` did not finish in 2 minutes.") from None
    if done.returncode != 0:
        raise ColabLinkError(
            f"`colab stop -s {name}` failed (exit {done.returncode}); "
            f"{_last_line(done.stdout + done.stderr)}."
        )


def session_of(proxy_command: tuple[str, ...] | None) -> tuple[Path, str] | None:
    """The client and session of a profile dialled by ``colab ssh --proxy-mode -s NAME``."""
    if proxy_command is None or proxy_command[1:3] != ("ssh", "--proxy-mode"):
        return None
    argv = list(proxy_command)
    if "-s" not in argv[:-1]:
        return None
    return Path(argv[0]), argv[argv.index("-s") + 1]


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return f"it said: {lines[-1]}" if lines else "it printed nothing"
