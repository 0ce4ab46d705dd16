"""``colablink demo``: run ColabLink end to end against a local runtime, then clean up."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="try ColabLink end to end against a local runtime (no Colab needed)",
        description="Start a local runtime, enroll a profile in a temporary project, run a "
        "program remotely, watch its output arrive, and remove everything again.",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from colablink.demo import main

    return main()
