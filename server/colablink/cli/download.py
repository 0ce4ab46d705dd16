"""``colablink download SRC [DEST]``: copy a remote file or tree here, with a progress bar.

Relative remote paths resolve against the remote source root; DEST defaults to the current
directory. Through the daemon when one is up.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from colablink.cli.main import add_profile_option

    parser = subparsers.add_parser("download", help="copy a remote file or directory here")
    add_profile_option(parser)
    parser.add_argument("source", help="remote path (relative paths are under the remote root)")
    parser.add_argument("destination", nargs="?", default=".", help="local path (default: .)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from colablink.cli.stopping import stop_on_signals
    from colablink.cli.upload import progress_bar
    from colablink.cli.warm import daemon_for, profile_name
    from colablink.errors import Cancelled

    destination = str(Path(args.destination).absolute())
    if args.destination.endswith("/") and not destination.endswith("/"):
        destination += "/"  # as cp: a missing directory named with a slash receives the copy
    name = profile_name(getattr(args, "profile", None))
    with stop_on_signals() as stop:
        try:
            with progress_bar(f"download {args.source}") as progress:
                daemon = daemon_for(name)
                if daemon is not None:
                    with daemon:
                        request = {"op": "download", "remote": args.source, "local": destination}
                        written = str(daemon.transfer(request, on_progress=progress)["path"])
                else:
                    from colablink.connection import Connection
                    from colablink.local.profiles import ProfileStore

                    profile = ProfileStore().load(name)
                    with Connection(profile) as connection, stop.cancellable() as cancel:
                        path = connection.download(
                            args.source, destination, progress=progress, cancel=cancel
                        )
                        written = str(path)
        except (KeyboardInterrupt, Cancelled):
            raise stop.cancelled("Download cancelled; nothing of it was kept here.") from None
    print(f"Downloaded {args.source} to {written}.")
    return 0
