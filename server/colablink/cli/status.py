"""``colablink status``: is the runtime reachable, how far away, what GPU, how much disk, daemon up?

Kept cheap to import: the warm path prints a daemon's answer with ``print_status`` alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from colablink.shown import shown

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from colablink.cli.main import add_profile_option

    parser = subparsers.add_parser(
        "status", help="show whether the runtime is reachable, its GPU, free disk and the agent"
    )
    add_profile_option(parser)
    parser.add_argument(
        "--watch",
        nargs="?",
        type=float,
        const=WATCH_INTERVAL_S,
        default=None,
        metavar="SECONDS",
        help=f"report again every SECONDS (default {WATCH_INTERVAL_S:g}) until Ctrl+C",
    )
    parser.set_defaults(run=run)


WATCH_INTERVAL_S = 5.0


def run(args: argparse.Namespace) -> int:
    from colablink.cli.warm import daemon_for, profile_name

    name = profile_name(getattr(args, "profile", None))
    interval = getattr(args, "watch", None)
    if interval is not None and interval <= 0:
        from colablink.errors import UsageError

        raise UsageError("--watch takes a positive number of seconds.")
    daemon = daemon_for(name)
    if daemon is not None:
        with daemon:
            return _reports(lambda: daemon.call({"op": "status"}), interval)
    from colablink.connection import Connection
    from colablink.local.profiles import ProfileStore

    with Connection(ProfileStore().load(name), connect_timeout=10.0) as connection:
        return _reports(lambda: connection.status(agent_running=False).to_dict(), interval)


def _reports(read: Callable[[], dict[str, Any]], interval: float | None) -> int:
    """One report, or (``--watch``) one every ``interval`` seconds until Ctrl+C."""
    if interval is None:
        return print_status(read())
    import time

    try:
        while True:
            print(time.strftime("-- %H:%M:%S"), flush=True)
            print_status(read())
            time.sleep(interval)
    except KeyboardInterrupt:
        return 0


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
        rows.extend(resource_rows(status.get("resources")))
        going = status.get("runs_in_progress")
        if isinstance(going, int):
            rows.append(("runs", f"{going} in progress" if going else "none in progress"))
        rows.append(("jupyter", jupyter_row(status)))
    else:
        rows.append(("reachable", f"no: {status.get('problem') or 'no answer'}"))
    rows.append(("agent", "running" if status["agent_running"] else "not running"))
    width = max(len(label) for label, _ in rows)
    # Every value but the labels can come from the runtime (the GPU name, a problem text).
    print("\n".join(f"{label:<{width}}  {shown(value)}" for label, value in rows), flush=True)
    return 0 if status["reachable"] else 1


def jupyter_row(status: dict[str, Any]) -> str:
    """The server on the runtime, without its token: `colablink jupyter` prints the URL."""
    port, run_id = status.get("jupyter_port"), status.get("jupyter_run_id")
    if not isinstance(port, int):
        return "not running"
    run = f", run {run_id}" if isinstance(run_id, str) else ""
    return f"running on the runtime's port {port}{run}; `colablink jupyter` gives its URL"


def resource_rows(resources: Any) -> list[tuple[str, str]]:
    """GPU memory and utilisation, RAM and disk use, as far as the runtime reported them."""
    if not isinstance(resources, dict):
        return []
    rows: list[tuple[str, str]] = []
    used, total = resources.get("gpu_memory_used_mib"), resources.get("gpu_memory_total_mib")
    if isinstance(used, int) and isinstance(total, int):
        util = resources.get("gpu_utilization_pct")
        busy = f", {util}% busy" if isinstance(util, int) else ""
        rows.append(("gpu mem", f"{used} of {total} MiB used{busy}"))
    for label, total_key, free_key in (
        ("ram", "ram_total_bytes", "ram_available_bytes"),
        ("disk", "disk_total_bytes", "disk_free_bytes"),
    ):
        all_, free = resources.get(total_key), resources.get(free_key)
        if isinstance(all_, int) and isinstance(free, int) and all_ > 0:
            used_bytes = all_ - free
            share = round(100 * used_bytes / all_)
            text = f"{human_bytes(used_bytes)} of {human_bytes(all_)} used ({share}%)"
            rows.append((label, text))
    return rows


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{count} B"
        size /= 1024
    raise AssertionError("unreachable")
