"""``colablink profiles``: list the enrolled profiles and where each one points."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("profiles", help="list connection profiles")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from colablink.errors import ColabLinkError
    from colablink.local.profiles import ProfileStore

    store = ProfileStore()
    names = store.names()
    if not names:
        print("No profiles yet; run `colablink init` with your runtime's connection info.")
        return 0
    rows = [("PROFILE", "RUNTIME", "REMOTE DIR", "LOCAL DIR", "PROJECT")]
    for name in names:
        try:
            p = store.load(name)
        except ColabLinkError as exc:
            rows.append((name, f"(unreadable: {exc.message})", "", "", ""))
            continue
        rows.append(
            (
                name,
                f"{p.username}@{p.host}:{p.port}",
                p.remote_conn_dir,
                str(p.local_conn_dir),
                str(p.project_root),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
    return 0
