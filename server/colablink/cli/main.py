"""Entry point of the ``colablink`` command: parse, dispatch, turn user errors into sentences."""

from __future__ import annotations

import sys

from colablink_runtime.errors import RuntimeSetupError

from colablink import __version__
from colablink.errors import ColabLinkError
from colablink.shown import shown

# typing (and collections.abc) cost the CLI's warm path ~4 ms of imports; mypy still sees them.
TYPE_CHECKING = False
if TYPE_CHECKING:
    # argparse is imported where it is used, so a call relayed to the daemon never loads it.
    import argparse
    from collections.abc import Sequence
    from typing import Protocol

    class CommandModule(Protocol):
        def register(
            self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]
        ) -> None: ...


# Each module registers one subcommand; the order is the order in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "init",
    "exec",
    "runs",
    "shell",
    "status",
    "profiles",
    "upload",
    "download",
    "forward",
    "jupyter",
    "run",
    "proxy",
    "watch",
    "sync",
    "disconnect",
    "helper",
    "runtime",
    "demo",
)

DESCRIPTION = """\
Code locally, run on a Colab (or any SSH-reachable) GPU.

On the runtime:  colablink runtime            (or the setup notebook)
On your machine: colablink init               (paste the connection info it printed)
                 colablink watch              (keep sources and outputs in sync)
                 colablink exec python train.py
"""


def add_profile_option(parser: argparse.ArgumentParser) -> None:
    """``--profile`` is accepted before or after the subcommand; after wins."""
    import argparse

    parser.add_argument(
        "--profile",
        "-p",
        default=argparse.SUPPRESS,
        help="which connection profile to use (default: the only one, if there is one)",
    )


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or (``only``) one with just that subcommand, which loads faster."""
    import argparse
    import importlib

    parser = argparse.ArgumentParser(
        prog="colablink",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"colablink {__version__}")
    add_profile_option(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES if only is None else (only,):
        module: CommandModule = importlib.import_module(f"colablink.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    relayed = _warm_path(words)
    if relayed is not None:
        return relayed
    _skip_unused_imports()
    parser = build_parser(_named_command(words))
    args = parser.parse_args(words)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    try:
        code: int = args.run(args)
    except ColabLinkError as exc:
        print(f"colablink: {shown(exc.message)}", file=sys.stderr)
        return exc.exit_code
    except RuntimeSetupError as exc:
        print(f"colablink: {shown(exc.message)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


# Warm path: `exec` and `status` go straight to a running daemon, before argparse builds the
# parser and before any command module (or paramiko) loads. None means "not handled here".
def _warm_path(argv: Sequence[str]) -> int | None:
    from colablink.cli.warm import fast_main

    try:
        return fast_main(argv)
    except ColabLinkError as exc:
        print(f"colablink: {shown(exc.message)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _skip_unused_imports() -> None:
    """In the CLI's own process, keep paramiko from importing invoke.

    paramiko loads invoke (and, through it, yaml and unittest.mock) at import time, only to
    evaluate ssh_config ``Match exec`` lines, which ColabLink never parses; that import is a
    large share of a cold ``colablink exec``.
    """
    sys.modules.setdefault("invoke", None)  # type: ignore[arg-type]


def _named_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names, if it is a known one; then only its module is loaded."""
    from colablink.cli.warm import take_profile_options

    leading = take_profile_options(list(argv), stop_at_command=False)
    if leading is None or not leading[1] or leading[1][0] not in COMMAND_MODULES:
        return None
    return leading[1][0]
