"""``colablink watch``: the profile's daemon and its sync, in the foreground until Ctrl+C.

The daemon holds the one warm SSH connection; other commands reach it through its socket. While
an editor window holds the profile itself, the daemon's session rides the window's connection
(its ``proxy`` socket), and falls back to the profile's transport once the window is gone. Beside
the socket it hosts the sync engine from ``sync_engine`` (sources up, outputs back), which shares
the same connection; the socket's clients (the editor helper) flush it, run passes and follow
its events through the daemon.
"""

from __future__ import annotations

import argparse
import signal
from types import FrameType
from typing import TYPE_CHECKING

from colablink.shown import shown

if TYPE_CHECKING:
    from colablink.connection import Connection
    from colablink.sync.engine import SyncEngine


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from colablink.cli.main import add_profile_option

    parser = subparsers.add_parser(
        "watch", help="run the agent: one warm connection that other commands share"
    )
    add_profile_option(parser)
    parser.add_argument(
        "--debounce",
        type=float,
        default=0.2,
        metavar="S",
        help="wait this long after a local change before sending (default: 0.2)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=0.5,
        metavar="S",
        help="how often the runtime checks for outputs when it cannot watch them (default: 0.5)",
    )
    parser.add_argument("--no-sync", action="store_true", help="serve the connection only")
    parser.set_defaults(run=run)


def sync_engine(connection: Connection, args: argparse.Namespace) -> SyncEngine | None:
    """The sync engine the daemon runs beside its socket, on its connection (None: --no-sync)."""
    if args.no_sync:
        return None
    from colablink.sync.engine import SyncEngine
    from colablink.sync.spec import spec_for

    engine = SyncEngine(
        spec_for(connection.profile),
        lambda: connection.session,
        debounce=args.debounce,
        interval=args.interval,
    )
    engine.on_state(lambda state: print(f"sync: {state}", flush=True))
    engine.on_outputs(
        lambda paths: print(f"sync: {len(paths)} output(s) arrived locally", flush=True)
    )
    engine.on_problem(
        lambda path, why: print(f"sync: skipped {shown(path)}: {shown(why)}", flush=True)
    )
    return engine


def run(args: argparse.Namespace) -> int:
    from colablink.cli.warm import profile_name
    from colablink.connection import Connection
    from colablink.daemon.address import socket_path, window_socket_path
    from colablink.daemon.server import DaemonServer
    from colablink.local.profiles import ProfileStore

    name = profile_name(getattr(args, "profile", None))
    # An editor window holding the profile itself keeps its connection; ours rides it.
    connection = Connection(ProfileStore().load(name), ride=window_socket_path(name))
    engine = sync_engine(connection, args)
    services = [] if engine is None else [engine]
    server = DaemonServer(connection, socket_path(name), services, sync=engine)
    # Claim the socket first (refusing if an daemon is up), then connect, so a bad profile or an
    # unreachable runtime fails here, in one sentence, before anything is served.
    server.bind()

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()

    # SIGTERM while connecting breaks off the dial (which may take its whole timeout).
    signal.signal(signal.SIGTERM, _break_off)
    try:
        connection.warm_up()
        # Inside the try: a signal arriving between these lines still releases the socket.
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
    except _Terminated:
        server.release()
        return 128 + signal.SIGTERM
    except BaseException:
        server.release()
        raise
    signal.set_wakeup_fd(server.wakeup_fd)
    print(
        f"Agent for profile {name!r} is up; Ctrl+C or `colablink disconnect` stops it.", flush=True
    )
    server.serve_forever()
    print("Agent stopped.", flush=True)
    return 0


class _Terminated(BaseException):
    """SIGTERM before the agent served anything: nothing to wind down but the socket."""


def _break_off(signum: int, frame: FrameType | None) -> None:
    raise _Terminated
