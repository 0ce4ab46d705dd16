"""``colablink status``: is the runtime reachable, how far away, what GPU, how much disk, daemon up?

Kept cheap to import: the warm path prints a daemon's answer with ``print_status`` alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from colablink.shown import shown

if TYPE_CHECKING:
    import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from colablink.cli.main import add_profile_option

    parser = subparsers.add_parser(
        "status", help="show whether the runtime is reachable, its GPU, free disk and the agent"
    )
    add_profile_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from colablink.cli.warm import daemon_for, profile_name

    name = profile_name(getattr(args, "profile", None))
    daemon = daemon_for(name)
    if daemon is not None:
        with daemon:
            return print_status(daemon.call({"op": "status"}))
    from colablink.connection import Connection
    from colablink.local.profiles import ProfileStore

    with Connection(ProfileStore().load(name), connect_timeout=10.0) as connection:
        return print_status(connection.status(agent_running=False).to_dict())


def print_status(status: dict[str, Any]) -> int:
    """Print a status report; exit 0 when the runtime answered, 1 when it did not."""
    rows = [
        ("profile", str(status["profile"])),
        (
            "runtime",
            f"{status['username']}@{status['host']}:{status['port']}  {status['remote_root']}",
        ),
    ]
    if status["reachable"]:
        rows.append(("reachable", f"yes, round trip {status['rtt_ms']:.1f} ms"))
        gpu = status.get("gpu")
        rows.append(("gpu", f"{gpu['name']}, {gpu['memory_mib']} MiB" if gpu else "none"))
        free = status.get("disk_free_bytes")
        rows.append(("disk free", "unknown" if free is None else human_bytes(int(free))))
    else:
        rows.append(("reachable", f"no: {status.get('problem') or 'no answer'}"))
    rows.append(("agent", "running" if status["agent_running"] else "not running"))
    width = max(len(label) for label, _ in rows)
    # Every value but the labels can come from the runtime (the GPU name, a problem text).
    print("\n".join(f"{label:<{width}}  {shown(value)}" for label, value in rows), flush=True)
    return 0 if status["reachable"] else 1


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{count} B"
        size /= 1024
    raise AssertionError("unreachable")
