"""Reach a profile's daemon when one is up, and the CLI's fast path for the warm commands.

``fast_main`` runs before argparse and the command modules are loaded: it understands just enough
of ``exec`` and ``status`` to hand them to a running daemon. Anything it does not recognise, or no
daemon, returns None and the normal parser takes over (which also uses the daemon when it is up), so
the fast path changes speed, never behaviour.
"""

# The warm path avoids pathlib (an import it would otherwise be the only one to pay for).
# ruff: noqa: PTH100, PTH111, PTH113, PTH118, PTH208

from __future__ import annotations

import os
import re

from colablink.daemon.client import DaemonClient, connect

TYPE_CHECKING = False  # typing would cost every warm call its import time
if TYPE_CHECKING:
    from collections.abc import Sequence

PROFILE_OPTIONS = ("--profile", "-p")
# The alphabet ``profiles.check_profile_name`` allows; anything else takes the full path.
_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")


def profile_name(requested: str | None) -> str:
    """The profile a command is for: the one asked for, else the only one."""
    from colablink.local.profiles import ProfileStore, check_profile_name

    if requested is not None:
        return check_profile_name(requested)
    return ProfileStore().resolve(None).name


def daemon_for(name: str) -> DaemonClient | None:
    from colablink.daemon.address import socket_path

    return connect(str(socket_path(name)))


def exec_command(words: Sequence[str]) -> list[str] | str:
    """The argv to run, or, for a single word containing whitespace, a shell command line."""
    if len(words) == 1 and any(char.isspace() for char in words[0]):
        return words[0]
    return list(words)


def forward_stdin() -> bool:
    """Piped or redirected input is forwarded; a terminal is not (use `colablink shell`)."""
    return not os.isatty(0)


def take_profile_options(
    words: list[str], stop_at_command: bool
) -> tuple[str | None, list[str]] | None:
    """Consume leading ``--profile`` options; None if anything else option-like shows up.

    Returns the profile named (if any) and the words after the options.
    """
    profile: str | None = None
    while words:
        word = words[0]
        if word in PROFILE_OPTIONS and len(words) > 1:
            profile, words = words[1], words[2:]
        elif word.startswith("--profile="):
            profile, words = word.partition("=")[2], words[1:]
        elif stop_at_command and word == "--":
            return profile, words[1:]
        elif word.startswith("-"):
            return None
        else:
            break
    return profile, words


def fast_main(argv: Sequence[str]) -> int | None:
    """Run ``exec``/``status`` through a running daemon; None to fall back to the full CLI."""
    leading = take_profile_options(list(argv), stop_at_command=False)
    if leading is None or not leading[1] or leading[1][0] not in ("exec", "status"):
        return None
    profile, words = leading
    verb = words[0]
    trailing = take_profile_options(words[1:], stop_at_command=verb == "exec")
    if trailing is None:
        return None
    profile, rest = trailing[0] or profile, trailing[1]
    if (verb == "exec") != bool(rest):
        return None
    name = quick_profile_name(profile)
    daemon = (
        None if name is None else connect(os.path.join(_quick_dir("RUNTIME"), f"agent-{name}.sock"))
    )
    if daemon is None:
        return None
    with daemon:
        if verb == "exec":
            return daemon.exec(exec_command(rest), forward_stdin=forward_stdin())
        from colablink.cli.status import print_status

        return print_status(daemon.call({"op": "status"}))


def _quick_dir(kind: str) -> str:
    """``paths.runtime_dir()``/``paths.config_dir()``, without importing them when overridden.

    ``colablink.local.paths`` pulls in platformdirs and pathlib, a large share of a warm call.
    """
    override = os.environ.get(f"COLABLINK_{kind}_DIR")
    if override:
        return os.path.abspath(os.path.expanduser(override))
    from colablink.local import paths

    return str(paths.runtime_dir() if kind == "RUNTIME" else paths.config_dir())


def quick_profile_name(requested: str | None) -> str | None:
    """The profile ``profiles.ProfileStore.resolve`` would pick, or None when unsure.

    Reads the profile directory directly: importing the profile store (dataclasses) costs more
    than the whole relayed call. None sends the command down the full path, which reports errors.
    """
    if requested is not None:
        return requested if _PROFILE_NAME.match(requested) else None
    directory = os.path.join(_quick_dir("CONFIG"), "profiles")
    try:
        entries = os.listdir(directory)
    except OSError:
        return None
    names = [
        entry[: -len(".json")]
        for entry in entries
        if entry.endswith(".json")
        and _PROFILE_NAME.match(entry[: -len(".json")])
        and os.path.isfile(os.path.join(directory, entry))
    ]
    return names[0] if len(names) == 1 else None
