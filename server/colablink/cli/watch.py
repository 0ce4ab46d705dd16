"""``colablink watch``: run the profile's agent in the foreground until Ctrl+C or disconnect.

The agent holds the one warm SSH connection; other commands reach it through its socket. The
services it hosts beside the socket come from ``hosted_services``.
"""

from __future__ import annotations

import argparse
import signal
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from colablink.agent.server import Service
    from colablink.connection import Connection


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from colablink.cli.main import add_profile_option

    parser = subparsers.add_parser(
        "watch", help="run the agent: one warm connection that other commands share"
    )
    add_profile_option(parser)
    parser.set_defaults(run=run)


def hosted_services(connection: Connection) -> list[Service]:
    """What the agent runs besides its socket; the sync engine joins here."""
    return []


def run(args: argparse.Namespace) -> int:
    from colablink.agent.address import socket_path
    from colablink.agent.relay import profile_name
    from colablink.agent.server import AgentServer
    from colablink.connection import Connection
    from colablink.profiles import ProfileStore

    name = profile_name(getattr(args, "profile", None))
    connection = Connection(ProfileStore().load(name), long_lived=True)
    server = AgentServer(connection, socket_path(name), hosted_services(connection))
    # Claim the socket first (refusing if an agent is up), then connect, so a bad profile or an
    # unreachable runtime fails here, in one sentence, before anything is served.
    server.bind()
    try:
        connection.warm_up()
    except BaseException:
        server.release()
        raise

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(
        f"Agent for profile {name!r} is up; Ctrl+C or `colablink disconnect` stops it.", flush=True
    )
    server.serve_forever()
    print("Agent stopped.", flush=True)
    return 0
