"""``colablink runs``, ``logs [-f] [--tail N] ID``, ``attach ID`` and ``kill ID``: the runs the
runtime's supervisor keeps, which outlive the link (and ``exec --detach``).

Each opens its own connection; a daemon's stays untouched.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

from colablink.errors import UsageError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from colablink.cli.main import add_profile_option

    listing = subparsers.add_parser(
        "runs",
        help="list the runs on the runtime",
        description="Runs in progress and finished ones; finished runs are kept 7 days, at most "
        "200 of them and 512 MiB of output in all, and each run keeps its last 64 MiB of output.",
    )
    add_profile_option(listing)
    listing.set_defaults(run=list_runs)

    logs = subparsers.add_parser("logs", help="print a run's output")
    add_profile_option(logs)
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing until it ends")
    logs.add_argument("--tail", type=int, metavar="N", help="only the last N lines so far")
    logs.add_argument("id")
    logs.set_defaults(run=print_logs)

    attach = subparsers.add_parser(
        "attach",
        help="follow a run: its output from the start, then live; Ctrl+C interrupts it",
    )
    add_profile_option(attach)
    attach.add_argument("--from", dest="from_pos", type=int, default=0, metavar="BYTE")
    attach.add_argument("id")
    attach.set_defaults(run=attach_run)

    kill = subparsers.add_parser("kill", help="end a run (SIGTERM to its process group)")
    add_profile_option(kill)
    kill.add_argument("--signal", default="TERM", help="another signal, e.g. INT or KILL")
    kill.add_argument("id")
    kill.set_defaults(run=kill_run)


def _connection(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from colablink.cli.warm import profile_name
    from colablink.connection import Connection
    from colablink.local.profiles import ProfileStore

    return Connection(ProfileStore().load(profile_name(getattr(args, "profile", None))))


def _write(fd: int) -> Callable[[bytes], None]:
    from colablink.daemon.client import write_all

    return lambda data: write_all(fd, data)


def _notice(message: str) -> None:
    sys.stderr.write(f"colablink: {message}\n")
    sys.stderr.flush()


def list_runs(args: argparse.Namespace) -> int:
    with _connection(args) as connection:
        runs = connection.runs()
    if not runs:
        print("No runs on the runtime.")
        return 0
    now = time.time()
    print(f"{'ID':<16} {'STATE':<8} {'STARTED':<19} {'TIME':>8} {'CODE':>4}  COMMAND")
    for run in runs:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.started))
        seconds = int((run.ended or now) - run.started)
        duration = f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        code = "" if run.exit_code is None else str(run.exit_code)
        command = run.command.replace("\n", " ")[:60]
        print(f"{run.id:<16} {run.state:<8} {started:<19} {duration:>8} {code:>4}  {command}")
    return 0


def print_logs(args: argparse.Namespace) -> int:
    from colablink.ssh.runs import check_run_id

    run_id = check_run_id(args.id)
    if args.tail is not None and args.tail < 0:
        raise UsageError("--tail takes a number of lines, 0 or more.")
    with _connection(args) as connection:
        if args.tail is None:
            connection.attach(
                run_id,
                on_stdout=_write(1),
                on_stderr=_write(2),
                until_now=not args.follow,
                on_notice=_notice,
            )
            return 0
        lines: deque[bytes] = deque(maxlen=args.tail)
        partial = bytearray()

        def keep(data: bytes) -> None:
            partial.extend(data)
            *whole, rest = bytes(partial).split(b"\n")
            lines.extend(line + b"\n" for line in whole)
            partial[:] = rest

        connection.attach(run_id, on_stdout=keep, on_stderr=keep, until_now=True)
        if partial:
            lines.append(bytes(partial))
        _write(1)(b"".join(lines))
        if args.follow:
            connection.attach(run_id, on_stdout=_write(1), on_stderr=_write(2), on_notice=_notice)
    return 0


def attach_run(args: argparse.Namespace) -> int:
    from colablink.cli.warm import forward_stdin
    from colablink.ssh.runs import check_run_id

    run_id = check_run_id(args.id)
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        with _connection(args) as connection:
            code = connection.attach(
                run_id,
                on_stdout=_write(1),
                on_stderr=_write(2),
                from_pos=max(0, args.from_pos),
                # Unbuffered, and never closed: see ``exec``.
                stdin=open(0, "rb", buffering=0, closefd=False)  # noqa: SIM115
                if forward_stdin()
                else None,
                cancel=cancel,
                on_notice=_notice,
            )
    finally:
        signal.signal(signal.SIGINT, previous)
    return 0 if code is None else code


def kill_run(args: argparse.Namespace) -> int:
    from colablink.ssh.runs import check_run_id

    run_id = check_run_id(args.id)
    name = args.signal.upper().removeprefix("SIG")
    if not hasattr(signal, f"SIG{name}"):
        raise UsageError(f"{args.signal} is not a signal name.")
    with _connection(args) as connection:
        running = connection.kill(run_id, name)
    if not running:
        print(f"Run {run_id} had already ended.")
    return 0
