"""``colablink upload SRC [DEST]``: copy a file or tree to the runtime, with a progress bar.

Relative remote paths resolve against the remote source root. Through the daemon when one is up.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

Progress = Callable[[int, int], None]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from colablink.cli.main import add_profile_option

    parser = subparsers.add_parser("upload", help="copy a local file or directory to the runtime")
    add_profile_option(parser)
    parser.add_argument("source", help="local file or directory")
    parser.add_argument(
        "destination",
        nargs="?",
        help="remote path (relative paths are under the remote root; default: same name there)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from colablink.cli.stopping import stop_on_signals
    from colablink.cli.warm import daemon_for, profile_name
    from colablink.errors import Cancelled, UsageError

    source = Path(args.source).absolute()
    if not source.exists():
        raise UsageError(f"{args.source} does not exist.")
    name = profile_name(getattr(args, "profile", None))
    with stop_on_signals() as stop:
        try:
            with progress_bar(f"upload {source.name}") as progress:
                daemon = daemon_for(name)
                if daemon is not None:
                    with daemon:
                        request = {"op": "upload", "local": str(source), "remote": args.destination}
                        written = str(daemon.transfer(request, on_progress=progress)["path"])
                else:
                    from colablink.connection import Connection
                    from colablink.local.profiles import ProfileStore

                    profile = ProfileStore().load(name)
                    with Connection(profile) as connection, stop.cancellable() as cancel:
                        written = connection.upload(
                            source, args.destination, progress=progress, cancel=cancel
                        )
        except (KeyboardInterrupt, Cancelled):
            raise stop.cancelled(
                "Upload cancelled; nothing of it was kept on the runtime."
            ) from None
    print(f"Uploaded {source} to {written}.")
    return 0


@contextmanager
def progress_bar(description: str) -> Iterator[Progress]:
    """A rich progress bar showing bytes, rate and time left, fed by ``progress(done, total)``."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        yield update
