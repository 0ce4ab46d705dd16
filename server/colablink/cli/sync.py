"""``colablink sync [--dry-run]``: one full pass both ways (sources up, outputs back)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from colablink.shown import shown

if TYPE_CHECKING:
    from rich.progress import Progress as RichBar
    from rich.progress import TaskID


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from colablink.cli.main import add_profile_option

    parser = subparsers.add_parser(
        "sync", help="push changed sources and pull new outputs once, with a progress bar"
    )
    add_profile_option(parser)
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would be sent and fetched; change nothing"
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="gitignore-style pattern to leave out (repeatable)",
    )
    parser.set_defaults(run=run)


class BarProgress:
    """Feeds sync's progress into a rich bar: files, bytes and rate."""

    def __init__(self, bar: RichBar) -> None:
        self.bar = bar
        self.task: TaskID | None = None
        self.files = 0

    def begin(self, phase: str, files: int, nbytes: int) -> None:
        self.files = 0
        self.task = self.bar.add_task(phase, total=nbytes, files=f"0/{files}", nfiles=files)

    def advance(self, files: int, nbytes: int) -> None:
        if self.task is None:
            return
        self.files += files
        task = self.bar.tasks[self.task]
        self.bar.update(
            self.task, advance=nbytes, files=f"{self.files}/{task.fields.get('nfiles', 0)}"
        )

    def end(self) -> None:
        if self.task is not None:
            self.bar.update(self.task, completed=self.bar.tasks[self.task].total)
            self.task = None


def run(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    from colablink.cli.warm import profile_name
    from colablink.connection import Connection
    from colablink.local.profiles import ProfileStore
    from colablink.sync.engine import SyncEngine
    from colablink.sync.spec import spec_for

    profile = ProfileStore().load(profile_name(getattr(args, "profile", None)))
    spec = spec_for(profile, excludes=tuple(args.exclude))
    with Connection(profile) as connection:
        engine = SyncEngine(spec, lambda: connection.session)
        with Progress(
            TextColumn("{task.description:>5}"),
            BarColumn(),
            TextColumn("{task.fields[files]} files"),
            DownloadColumn(),
            TransferSpeedColumn(),
            transient=True,
        ) as bar:
            report = engine.sync_once(dry_run=args.dry_run, progress=BarProgress(bar))
    verb = "would send" if args.dry_run else "sent"
    fetched = "would fetch" if args.dry_run else "fetched"
    push, pull = report.push, report.pull
    print(
        f"Sync {verb} {len(push.sent)} files ({human(push.nbytes)}), "
        f"deleted {len(push.deleted)}, {fetched} {len(pull.received)} outputs "
        f"({human(pull.nbytes)})."
    )
    if args.dry_run:
        for label, items in (
            ("send", push.sent),
            ("delete", push.deleted),
            ("fetch", pull.received),
        ):
            for rel in items:
                print(f"  {label} {shown(rel)}")
    for path, why in report.problems:
        print(f"  skipped {shown(path)}: {shown(why)}")
    return 1 if report.push.failed else 0


def human(nbytes: Any) -> str:
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
