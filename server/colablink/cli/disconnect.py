"""``colablink disconnect [--forget]``: stop the profile's daemon and its forwards.

``--forget`` also removes every trace of the profile on both sides (see ``enrollment.forget``).
"""

from __future__ import annotations

import argparse
import sys
import time


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from colablink.cli.main import add_profile_option

    parser = subparsers.add_parser("disconnect", help="stop the agent and its port forwards")
    add_profile_option(parser)
    parser.add_argument(
        "--forget",
        action="store_true",
        help="also delete the profile, its key, its ssh config block and its remote authorization",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from colablink.cli.warm import profile_name

    name = profile_name(getattr(args, "profile", None))
    stopped = stop_daemon(name)
    print(
        f"Stopped the agent for profile {name!r}."
        if stopped
        else f"No agent was running for {name!r}."
    )
    warn_of_runs(name)
    if args.forget:
        from colablink.enroll import enrollment
        from colablink.local.profiles import ProfileStore

        enrollment.forget(
            ProfileStore().load(name),
            warn=lambda message: print(f"colablink: warning: {message}", file=sys.stderr),
        )
        print(f"Forgot profile {name!r}.")
    return 0


def warn_of_runs(name: str) -> None:
    """Say when runs go on without anyone following them (they will finish on their own)."""
    from colablink.connection import Connection
    from colablink.errors import ColabLinkError
    from colablink.local.profiles import ProfileStore

    try:
        with Connection(ProfileStore().load(name), connect_timeout=5.0) as connection:
            running = [run.id for run in connection.runs() if run.state == "running"]
    except (ColabLinkError, OSError):
        return  # unreachable: nothing to tell
    if running:
        print(
            f"colablink: warning: {len(running)} run(s) still going on the runtime "
            f"({', '.join(running)}); `colablink runs` lists them, `colablink kill ID` ends one.",
            file=sys.stderr,
        )


def stop_daemon(name: str, timeout: float = 10.0) -> bool:
    """Ask the daemon to stop and wait until its socket is gone; False if none was running."""
    from colablink.cli.warm import daemon_for
    from colablink.daemon.address import socket_path
    from colablink.errors import ColabLinkError

    daemon = daemon_for(name)
    if daemon is None:
        return False
    with daemon:
        daemon.call({"op": "shutdown"})
    path = socket_path(name)
    deadline = time.monotonic() + timeout
    while path.exists():
        if time.monotonic() > deadline:
            raise ColabLinkError(f"The agent for {name!r} did not stop within {timeout:.0f} s.")
        time.sleep(0.05)
    return True
