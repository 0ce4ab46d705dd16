"""Reach a profile's agent when one is up, and the CLI's fast path for the warm commands.

``fast_main`` runs before argparse and the command modules are loaded: it understands just enough
of ``exec`` and ``status`` to hand them to a running agent. Anything it does not recognise, or no
agent, returns None and the normal parser takes over (which also uses the agent when it is up), so
the fast path changes speed, never behaviour.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from .client import AgentClient, connect

PROFILE_OPTIONS = ("--profile", "-p")


def profile_name(requested: str | None) -> str:
    """The profile a command is for: the one asked for, else the only one."""
    from colablink.profiles import ProfileStore, check_profile_name

    if requested is not None:
        return check_profile_name(requested)
    return ProfileStore().resolve(None).name


def agent_for(name: str) -> AgentClient | None:
    from .address import socket_path

    return connect(str(socket_path(name)))


def exec_command(words: Sequence[str]) -> list[str] | str:
    """The argv to run, or, for a single word containing whitespace, a shell command line."""
    if len(words) == 1 and any(char.isspace() for char in words[0]):
        return words[0]
    return list(words)


def forward_stdin() -> bool:
    """Piped or redirected input is forwarded; a terminal is not (use `colablink shell`)."""
    return not os.isatty(0)


def _take_options(words: list[str], stop_at_command: bool) -> tuple[str | None, list[str]] | None:
    """Consume leading ``--profile`` options; None if anything else option-like shows up."""
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
    """Run ``exec``/``status`` through a running agent; None to fall back to the full CLI."""
    leading = _take_options(list(argv), stop_at_command=False)
    if leading is None or not leading[1] or leading[1][0] not in ("exec", "status"):
        return None
    profile, words = leading
    verb = words[0]
    trailing = _take_options(words[1:], stop_at_command=verb == "exec")
    if trailing is None:
        return None
    profile, rest = trailing[0] or profile, trailing[1]
    if (verb == "exec") != bool(rest):
        return None
    from colablink.errors import ColabLinkError

    try:
        agent = agent_for(profile_name(profile))
    except ColabLinkError:
        return None
    if agent is None:
        return None
    with agent:
        if verb == "exec":
            return agent.exec(exec_command(rest), forward_stdin=forward_stdin())
        from colablink.cli.status import print_status

        return print_status(agent.call({"op": "status"}))
