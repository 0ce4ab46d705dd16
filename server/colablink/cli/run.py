"""``colablink run NOTEBOOK.ipynb [--output PATH]``: execute a notebook on the runtime, headless.

The notebook must be in the synced folder. It is pushed first (the daemon's sync is flushed; with
no daemon up, one sync pass runs before and one after, bringing the outputs back), executed on the
runtime with nbclient as a supervised run, and the executed notebook, outputs and tracebacks
included, is written here. Exit 1 when a cell failed, naming it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from colablink.shown import shown

if TYPE_CHECKING:
    from colablink.notebooks.runtime_link import RuntimeLink


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from colablink.cli.main import add_profile_option

    parser = subparsers.add_parser(
        "run",
        help="execute a notebook on the runtime and write the executed copy here",
        description="Execute NOTEBOOK.ipynb (in the synced folder) on the runtime, cell by "
        "cell, in a kernel started in the notebook's folder on the runtime's own python3. Each "
        "cell's progress is printed; the executed notebook with its outputs is written beside "
        "the input as NAME.out.ipynb (or to --output). Exit 1 if a cell fails: the message names "
        "the cell, and the executed notebook holds the traceback. Scripts run with `exec`.",
    )
    add_profile_option(parser)
    parser.add_argument("notebook", type=Path, metavar="NOTEBOOK.ipynb")
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        default=None,
        metavar="PATH",
        help="where to write the executed notebook (default: NAME.out.ipynb beside it)",
    )
    parser.set_defaults(run=run)


def _progress(line: str) -> None:
    print(shown(line), file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from colablink.cli.warm import profile_name
    from colablink.notebooks import notebook_run
    from colablink.notebooks.runtime_link import holder_for

    name = profile_name(getattr(args, "profile", None))
    output = args.output or notebook_run.default_output(args.notebook)
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        with holder_for(name) as link:
            rel = notebook_run.remote_notebook(link, args.notebook)
            synced = _push(link, args.notebook, rel)
            result = notebook_run.run_notebook(
                link, rel, output, on_progress=_progress, cancel=cancel
            )
            if not synced:
                _sync_once(link)
    finally:
        signal.signal(signal.SIGINT, previous)
    if cancel.is_set():
        print("colablink: interrupted.", file=sys.stderr)
        return 130
    if result.failure is not None:
        print(f"colablink: {shown(result.failure)}", file=sys.stderr)
        print(f"colablink: the executed notebook, with the traceback, is in {result.output}.")
        return 1
    print(f"Wrote the executed notebook to {result.output}.")
    return 0


def _push(link: RuntimeLink, local: Path, rel: str) -> bool:
    """Bring the runtime's copy up to date; whether a daemon's sync did (and keeps doing) it."""
    from colablink.errors import UsageError
    from colablink.notebooks.runtime_link import DaemonRuntime

    if isinstance(link, DaemonRuntime):
        try:
            link.flush([rel])
        except UsageError:  # a daemon that does not sync (--no-sync): copy the notebook itself
            link.upload(local.absolute(), rel)
        return True
    _sync_once(link)
    return False


def _sync_once(link: RuntimeLink) -> None:
    """One sync pass both ways over our own connection, as `colablink sync` does."""
    from colablink.connection import Connection
    from colablink.sync.engine import SyncEngine
    from colablink.sync.spec import spec_for

    assert isinstance(link, Connection)
    engine = SyncEngine(spec_for(link.profile), lambda: link.session)
    report = engine.sync_once()
    if report.push.failed:
        from colablink.errors import SyncHalted

        raise SyncHalted("Some sources could not be pushed to the runtime; run `colablink sync`.")
