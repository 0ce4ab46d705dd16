"""``colablink exec [--] CMD ARGS...``: run a command in the runtime's source root.

The exit code is the remote's; stdout and stderr stay separate; Ctrl+C interrupts the remote
process; piped stdin is forwarded. The run is the supervisor's: a dropped link is re-dialed and the
output picked up where it stopped; ``--detach`` prints the run id and returns. Through the daemon
when one is up, else over a direct session.
"""

from __future__ import annotations

import argparse
import signal
import threading

from colablink.errors import UsageError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from colablink.cli.main import add_profile_option

    parser = subparsers.add_parser(
        "exec",
        help="run a command on the runtime, in the source root",
        description="Run CMD ARGS... on the runtime. A single argument containing spaces runs as "
        'a shell command line, so `exec "ls -la | wc -l"` works.',
    )
    add_profile_option(parser)
    parser.add_argument(
        "--detach", action="store_true", help="print the run's id and return; it goes on"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="CMD ARGS...")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from colablink.cli.warm import daemon_for, exec_command, forward_stdin, profile_name

    words = list(args.command)
    if words[:1] == ["--"]:
        words = words[1:]
    if not words:
        raise UsageError("Give a command to run, for example `colablink exec python train.py`.")
    command = exec_command(words)
    name = profile_name(getattr(args, "profile", None))
    if args.detach:
        from colablink.cli.runs import start_detached

        print(start_detached(name, command))
        return 0
    daemon = daemon_for(name)
    if daemon is not None:
        with daemon:
            return daemon.exec(command, forward_stdin=forward_stdin())
    return run_direct(name, command, forward_stdin())


def run_direct(name: str, command: list[str] | str, with_stdin: bool) -> int:
    from colablink.connection import Connection
    from colablink.daemon.client import write_all
    from colablink.local.profiles import ProfileStore

    cancel = threading.Event()

    def write(fd: int, data: bytes) -> None:
        try:
            write_all(fd, data)
        except BrokenPipeError:
            cancel.set()

    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        with Connection(ProfileStore().load(name)) as connection:
            return connection.exec(
                command,
                on_stdout=lambda data: write(1, data),
                on_stderr=lambda data: write(2, data),
                # Unbuffered: a daemon thread still inside a buffered read at exit aborts Python.
                stdin=open(0, "rb", buffering=0, closefd=False) if with_stdin else None,
                cancel=cancel,
                on_notice=lambda message: write(2, f"colablink: {message}\n".encode()),
            )
    finally:
        signal.signal(signal.SIGINT, previous)
