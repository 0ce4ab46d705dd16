"""``colablink forward PORT [--local-port N]``: serve a runtime port on this machine until Ctrl+C.

With a daemon up, the daemon holds the forward for as long as this command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import threading


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from colablink.cli.main import add_profile_option

    parser = subparsers.add_parser("forward", help="forward a runtime port to a local port")
    add_profile_option(parser)
    parser.add_argument("port", type=port_number, help="port on the runtime")
    parser.add_argument(
        "--local-port", type=port_number, default=None, help="local port (default: the same one)"
    )
    parser.set_defaults(run=run)


def port_number(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return int(text)


def run(args: argparse.Namespace) -> int:
    from colablink.cli.warm import daemon_for, profile_name

    name = profile_name(getattr(args, "profile", None))
    local_port = args.port if args.local_port is None else args.local_port
    daemon = daemon_for(name)
    if daemon is not None:
        with daemon:
            request = {"op": "forward", "remote_port": args.port, "local_port": local_port}
            port = int(daemon.call({**request, "hold": True})["local_port"])
            announce(port, args.port)
            with contextlib.suppress(KeyboardInterrupt):
                daemon.wait_closed()
        print("Forward closed.")
        return 0
    from colablink.connection import Connection
    from colablink.local.profiles import ProfileStore

    with Connection(ProfileStore().load(name)) as connection:
        port = connection.forward(args.port, local_port)
        announce(port, args.port)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    print("Forward closed.")
    return 0


def announce(local_port: int, remote_port: int) -> None:
    print(
        f"Forwarding http://127.0.0.1:{local_port} to port {remote_port} on the runtime; "
        "Ctrl+C to stop.",
        flush=True,
    )
