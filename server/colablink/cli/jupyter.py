"""``colablink jupyter [--port P] [--stop]``: the runtime's Jupyter server, forwarded here.

Finds the server running on the runtime or starts it (installing ``jupyter_server`` into a private
environment there the first time), forwards it to a local port and prints its URL, then holds the
forward until Ctrl+C; the server itself goes on (a supervised run) until ``--stop``. Through the
profile's daemon when one is up, else over a connection of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from colablink.shown import shown

if TYPE_CHECKING:
    from colablink.notebooks.jupyter_server import JupyterServer
    from colablink.notebooks.runtime_link import RuntimeLink

DEFAULT_LOCAL_PORT = 8888

T = TypeVar("T")

DESCRIPTION = """\
Start (or find) a Jupyter server on the runtime and forward it to this machine.

The server runs the runtime's own python3 as its kernel, so your packages import; its root is
the synced source tree, and a notebook's kernel starts in the notebook's folder, so relative paths
read the synced files, and files written under $COLABLINK_OUTPUT_DIR come back with the outputs.
It listens on the runtime's 127.0.0.1 only, with a fresh token, and keeps running when the link
drops or this command ends.

The URL printed (http://127.0.0.1:PORT/?token=...) works in VS Code ("Select Kernel" > "Existing
Jupyter Server"), JupyterLab or a browser, for as long as this command runs.

  colablink jupyter              forward to port 8888 (or a free one), until Ctrl+C
  colablink jupyter --port 9000  forward to port 9000
  colablink jupyter --stop       end the server and its kernels
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from colablink.cli.forward import port_number
    from colablink.cli.main import add_profile_option

    parser = subparsers.add_parser(
        "jupyter",
        help="start a Jupyter server on the runtime and forward it here",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_profile_option(parser)
    parser.add_argument(
        "--port",
        type=port_number,
        default=None,
        metavar="P",
        help=f"local port for the URL (default: {DEFAULT_LOCAL_PORT}, or a free one if taken)",
    )
    parser.add_argument(
        "--stop", action="store_true", help="end the runtime's Jupyter server and its kernels"
    )
    parser.set_defaults(run=run)


def _progress(line: str) -> None:
    print(f"colablink: {shown(line)}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from colablink.cli.warm import profile_name
    from colablink.notebooks import jupyter_server
    from colablink.notebooks.runtime_link import holder_for

    name = profile_name(getattr(args, "profile", None))
    with holder_for(name) as link:
        if args.stop:
            if jupyter_server.stop_server(link):
                print("Stopped the Jupyter server on the runtime.")
            else:
                print("No Jupyter server was running on the runtime.")
            return 0
        server = jupyter_server.ensure_server(link, on_progress=_progress)
        _hold_forward(name, link, server, args.port)
    print("Forward closed; the server keeps running (`colablink jupyter --stop` ends it).")
    return 0


def _hold_forward(name: str, link: RuntimeLink, server: JupyterServer, wanted: int | None) -> None:
    """Forward until Ctrl+C: the daemon holds it while our request stays open, a connection of
    our own while this process runs."""
    from colablink.cli.warm import daemon_for
    from colablink.daemon.client import DaemonClient
    from colablink.errors import UsageError
    from colablink.notebooks.runtime_link import DaemonRuntime

    ports = [wanted] if wanted is not None else [DEFAULT_LOCAL_PORT, 0]
    if isinstance(link, DaemonRuntime):

        def held_by_daemon(port: int) -> tuple[DaemonClient, int]:
            daemon = daemon_for(name)
            if daemon is None:
                raise UsageError("The agent stopped; run `colablink jupyter` again.")
            request = {"op": "forward", "remote_port": server.port, "local_port": port}
            try:
                return daemon, int(daemon.call({**request, "hold": True})["local_port"])
            except BaseException:
                daemon.close()
                raise

        daemon, local = _first_free(ports, held_by_daemon)
        with daemon:
            _announce(server, local)
            with contextlib.suppress(KeyboardInterrupt):
                daemon.wait_closed()
        return
    from colablink.connection import Connection

    assert isinstance(link, Connection)
    local = _first_free(ports, lambda port: link.forward(server.port, port))
    _announce(server, local)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


def _first_free(ports: list[int], forward_on: Callable[[int], T]) -> T:
    """The forward on the first of ``ports`` that is free; the last one's refusal otherwise."""
    from colablink.errors import UsageError

    for port in ports[:-1]:
        with contextlib.suppress(UsageError):
            return forward_on(port)
    return forward_on(ports[-1])


def _announce(server: JupyterServer, local_port: int) -> None:
    run = f", run {server.run_id}" if server.run_id else ""
    print(
        f"colablink: Jupyter server on the runtime (root {shown(server.root)}{run}); "
        "open the URL below in VS Code, JupyterLab or a browser. Ctrl+C stops forwarding.",
        file=sys.stderr,
        flush=True,
    )
    print(server.url(local_port), flush=True)
