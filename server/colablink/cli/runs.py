"""``colablink runs``, ``logs [-f] [--tail N] ID``, ``attach ID`` and ``kill ID``: the runs the
runtime's supervisor keeps, which outlive the link (and ``exec --detach``).

Through the profile's daemon when one is up (on Colab's channel, which takes one connection at a
time, a second would be refused), else over a connection of their own.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from colablink.errors import UsageError

if TYPE_CHECKING:
    from colablink.connection import Connection
    from colablink.daemon.client import DaemonClient
    from colablink.ssh.runs import RunInfo


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


class _Runs:
    """The supervisor's runs, through the profile's daemon when one is up (one request per socket
    connection), else over a connection of our own, opened on first use."""

    def __init__(self, args: argparse.Namespace) -> None:
        from colablink.cli.warm import profile_name

        self.name = profile_name(getattr(args, "profile", None))
        self._connection: Connection | None = None

    def __enter__(self) -> _Runs:
        return self

    def __exit__(self, *_: object) -> None:
        if self._connection is not None:
            self._connection.close()

    def _daemon(self) -> DaemonClient | None:
        from colablink.cli.warm import daemon_for

        return daemon_for(self.name)

    def _direct(self) -> Connection:
        from colablink.connection import Connection
        from colablink.local.profiles import ProfileStore

        if self._connection is None:
            self._connection = Connection(ProfileStore().load(self.name))
        return self._connection

    def listing(self) -> list[RunInfo]:
        from colablink.ssh.runs import RunInfo

        daemon = self._daemon()
        if daemon is None:
            return self._direct().runs()
        with daemon:
            return [RunInfo.parse(run) for run in daemon.call({"op": "runs"}).get("runs", [])]

    def kill(self, run_id: str, signal_name: str) -> bool:
        daemon = self._daemon()
        if daemon is None:
            return self._direct().kill(run_id, signal_name)
        with daemon:
            answer = daemon.call({"op": "kill", "id": run_id, "signal": signal_name})
        return bool(answer.get("running"))

    def start(self, command: list[str] | str) -> str:
        daemon = self._daemon()
        if daemon is None:
            return self._direct().start_detached(command)
        with daemon:
            return str(daemon.call({"op": "start", "command": command})["id"])

    def follow(
        self,
        run_id: str,
        on_output: Callable[[int, bytes], None],
        *,
        from_pos: int = 0,
        until_now: bool = False,
        interruptible: bool = False,
        reached: Callable[[int], object] | None = None,
    ) -> int | None:
        """Output from byte ``from_pos`` on (until now, or to the run's end: its exit code);
        ``reached`` hears the position to carry on from.

        ``interruptible``: stdin is forwarded and Ctrl+C interrupts the run; otherwise Ctrl+C
        only stops the following (``KeyboardInterrupt``)."""
        from colablink.cli.warm import forward_stdin

        with_stdin = interruptible and forward_stdin()
        daemon = self._daemon()
        if daemon is not None:
            request = {
                "op": "attach",
                "id": run_id,
                "from": from_pos,
                "until_now": until_now,
                "stdin": with_stdin,
            }
            with daemon:
                code = daemon.stream(
                    request,
                    on_output,
                    forward_stdin=with_stdin,
                    interruptible=interruptible,
                    on_notice=_notice,
                )
                if reached is not None and daemon.reached is not None:
                    reached(daemon.reached)
                return code
        cancel = threading.Event()
        previous = signal.signal(signal.SIGINT, lambda *_: cancel.set()) if interruptible else None
        try:
            return self._direct().attach(
                run_id,
                on_stdout=lambda data: on_output(1, data),
                on_stderr=lambda data: on_output(2, data),
                from_pos=from_pos,
                # Unbuffered, and never closed: see ``exec``.
                stdin=open(0, "rb", buffering=0, closefd=False) if with_stdin else None,
                cancel=cancel,
                until_now=until_now,
                reached=reached,
                on_notice=_notice,
            )
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)


def _write(fd: int, data: bytes) -> None:
    from colablink.daemon.client import write_all

    write_all(fd, data)


def _notice(message: str) -> None:
    sys.stderr.write(f"colablink: {message}\n")
    sys.stderr.flush()


def list_runs(args: argparse.Namespace) -> int:
    with _Runs(args) as target:
        runs = target.listing()
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
    with _Runs(args) as target:
        if args.tail is None:
            target.follow(run_id, _write, until_now=not args.follow)
            return 0
        lines: deque[bytes] = deque(maxlen=args.tail)
        partial = bytearray()

        def keep(_: int, data: bytes) -> None:
            partial.extend(data)
            *whole, rest = bytes(partial).split(b"\n")
            lines.extend(line + b"\n" for line in whole)
            partial[:] = rest

        reached = [0]
        target.follow(run_id, keep, until_now=True, reached=lambda pos: reached.__setitem__(0, pos))
        if partial:
            lines.append(bytes(partial))
        _write(1, b"".join(lines))
        if args.follow:
            target.follow(run_id, _write, from_pos=reached[0])
    return 0


def attach_run(args: argparse.Namespace) -> int:
    from colablink.ssh.runs import check_run_id

    run_id = check_run_id(args.id)
    with _Runs(args) as target:
        code = target.follow(run_id, _write, from_pos=max(0, args.from_pos), interruptible=True)
    return 0 if code is None else code


def kill_run(args: argparse.Namespace) -> int:
    from colablink.ssh.runs import check_run_id

    run_id = check_run_id(args.id)
    name = args.signal.upper().removeprefix("SIG")
    if not hasattr(signal, f"SIG{name}"):
        raise UsageError(f"{args.signal} is not a signal name.")
    with _Runs(args) as target:
        running = target.kill(run_id, name)
    if not running:
        print(f"Run {run_id} had already ended.")
    return 0


def start_detached(name: str, command: list[str] | str) -> str:
    """``exec --detach``: start the run, through the daemon when one is up; its id."""
    with _Runs(argparse.Namespace(profile=name)) as target:
        return target.start(command)
