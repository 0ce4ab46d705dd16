"""``colablink helper --stdio``: the editor helper, for the VS Code extension to launch."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "helper",
        help="serve the VS Code extension over stdio (started by the extension)",
        description="Speak ColabLink's JSON-RPC protocol with the VS Code extension over stdio.",
    )
    parser.add_argument(
        "--stdio",
        action="store_true",
        required=True,
        help="talk JSON-RPC on stdin/stdout (the only transport)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from colablink.helper.main import main

    return main()
