"""``colablink init``: enroll with a runtime from its connection info (or any SSH box with --ssh).

The connection info carries a password, so it is best read from stdin or a hidden prompt; the
positional form works as before but leaves the password in the shell's history.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from colablink.local.profiles import Profile

PROMPT = "Paste the connection info (input is hidden): "
HISTORY_WARNING = (
    "colablink: warning: the password is now in your shell history; next time run "
    "`colablink init` and paste the connection info at the hidden prompt, or pipe it in."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from colablink.cli.main import add_profile_option

    parser = subparsers.add_parser(
        "init",
        help="connect to a runtime: install a key, pin its host key, write the ssh config",
        description="Enroll with a runtime using the connection info it printed (JSON or clk1. "
        "token). With no argument or '-', the info is read from stdin or a hidden prompt.",
    )
    add_profile_option(parser)
    parser.add_argument(
        "source", nargs="?", metavar="JSON|TOKEN|-", help="the connection info (default: prompt)"
    )
    parser.add_argument(
        "--remote-dir", help="connection directory under the remote root (default: random)"
    )
    parser.add_argument("--local-dir", help="local output directory (default: as --remote-dir)")
    parser.add_argument(
        "--ssh-config",
        type=Path,
        help="ssh config file to write the Host block to (default: $COLABLINK_SSH_CONFIG or "
        "~/.ssh/config)",
    )
    parser.add_argument(
        "--ssh", metavar="USER@HOST[:PORT]", help="enroll any SSH machine instead of a runtime"
    )
    parser.add_argument(
        "--remote-root",
        metavar="PATH",
        help="with --ssh: where the project goes on that machine (default: ~/colablink); "
        "with --colab: /content",
    )
    parser.add_argument(
        "--identity", type=Path, metavar="KEY", help="a private key the remote already authorizes"
    )
    parser.add_argument(
        "--host-key",
        metavar="SHA256:...",
        help="fingerprint of the SSH machine's host key, if it is not in ~/.ssh/known_hosts",
    )
    colab = parser.add_argument_group("Colab's official channel (Google's `colab` client)")
    colab.add_argument(
        "--colab",
        nargs="?",
        const="",
        metavar="SESSION",
        help="enroll a Colab runtime through `colab ssh`: the named or only session, or a new one",
    )
    where = colab.add_mutually_exclusive_group()
    where.add_argument(
        "--gpu", choices=["T4", "L4", "G4", "A100", "H100"], help="for a new session"
    )
    where.add_argument("--tpu", choices=["v5e1", "v6e1"], help="accelerator of a new session")
    colab.add_argument(
        "--colab-cli", metavar="PATH", help="the `colab` executable (default: on PATH)"
    )
    colab.add_argument(
        "--colab-user", default="root", metavar="NAME", help="login on the runtime (default: root)"
    )
    parser.set_defaults(run=run)


def _complete(lines: list[str]) -> bool:
    """Whether the lines read so far are a whole answer: a token, or JSON that parses."""
    if not lines[0].lstrip().startswith("{"):
        return True
    try:
        json.loads("".join(lines))
    except ValueError:
        return False
    return True


def _prompt() -> str:
    """Read the info at a hidden prompt; pasted multi-line JSON is read until it parses.

    ``getpass`` flushes pending input each time it turns echo off, which would drop the rest of
    a multi-line paste, so echo is turned off once for the whole read.
    """
    try:
        import termios

        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except (ImportError, OSError):
        return getpass.getpass(PROMPT)
    saved = termios.tcgetattr(fd)
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~termios.ECHO
    lines: list[str] = []
    try:
        termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
        os.write(fd, PROMPT.encode())
        # The terminal is in canonical mode: each read returns at most one line.
        while not lines or not _complete(lines):
            line = os.read(fd, 65536).decode("utf-8", "replace")
            if not line.strip():
                break
            lines.append(line)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        os.write(fd, b"\n")
        os.close(fd)
    return "".join(lines)


def read_source(source: str | None) -> tuple[str, bool]:
    """The connection info text, and whether it came from the command line."""
    if source not in (None, "-"):
        assert source is not None
        return source, True
    if not sys.stdin.isatty():
        return sys.stdin.read(), False
    return _prompt(), False


def choose_profile(requested: str | None, project_root: Path) -> str:
    """--profile, else the only profile when it belongs to this project, else ``default``."""
    from colablink.errors import ColabLinkError
    from colablink.local.profiles import DEFAULT_PROFILE, ProfileStore

    if requested is not None:
        return requested
    store = ProfileStore()
    names = store.names()
    if len(names) == 1:
        try:
            if store.load(names[0]).project_root == project_root:
                return names[0]
        except ColabLinkError:
            pass
    return DEFAULT_PROFILE


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from colablink.enroll import enrollment, sshbox
    from colablink.enroll.connection_info import parse_connection_info
    from colablink.errors import UsageError

    err = Console(stderr=True, highlight=False)
    project_root = Path.cwd().absolute()
    profile_name = choose_profile(getattr(args, "profile", None), project_root)
    if args.colab is not None:
        return _run_colab(args, profile_name, project_root, err)
    if args.gpu or args.tpu or args.colab_cli:
        raise UsageError("--gpu, --tpu and --colab-cli go with --colab.")
    if args.ssh is not None:
        if args.source is not None:
            raise UsageError("Give either connection info or --ssh, not both.")
        if args.identity is None:
            raise UsageError("--ssh needs --identity KEY, a private key that machine authorizes.")
        with err.status(f"Checking {args.ssh}…"):
            info = sshbox.connection_info(args.ssh, args.identity, args.host_key, args.remote_root)
    else:
        if args.host_key is not None or args.remote_root is not None:
            raise UsageError(
                "--host-key and --remote-root go with --ssh; a runtime's connection info "
                "has its own."
            )
        text, on_command_line = read_source(args.source)
        info = parse_connection_info(text)
        if on_command_line and info.password is not None:
            print(HISTORY_WARNING, file=sys.stderr)
    notes: list[str] = []
    with err.status(f"Enrolling with {info.username}@{info.host}:{info.port}…"):
        profile = enrollment.enroll(
            info,
            profile=profile_name,
            remote_dir=args.remote_dir,
            local_dir=args.local_dir,
            project_root=project_root,
            ssh_config=args.ssh_config,
            identity=args.identity,
            warn=notes.append,
        )
    _report(profile, notes)
    return 0


def _run_colab(
    args: argparse.Namespace, profile_name: str, project_root: Path, err: Console
) -> int:
    from colablink.enroll import colab, colab_enroll
    from colablink.errors import UsageError

    if args.source is not None or args.ssh is not None or args.identity is not None:
        raise UsageError("--colab takes no connection info, --ssh or --identity.")
    cli = colab.find_cli(args.colab_cli)
    colab.check_logged_in()
    accelerator = ("gpu", args.gpu) if args.gpu else ("tpu", args.tpu) if args.tpu else None
    session = colab_enroll.choose_session(cli, args.colab or None, accelerator)
    notes: list[str] = []
    with err.status(f"Connecting to Colab session {session!r} through `colab ssh`…"):
        profile = colab_enroll.enroll(
            cli,
            session,
            profile=profile_name,
            project_root=project_root,
            username=args.colab_user,
            remote_root=args.remote_root or colab_enroll.COLAB_ROOT,
            remote_dir=args.remote_dir,
            local_dir=args.local_dir,
            ssh_config=args.ssh_config,
            warn=notes.append,
        )
    _report(profile, notes)
    return 0


def _report(profile: Profile, notes: list[str]) -> None:
    from colablink.local import keys

    for note in notes:
        print(f"colablink: warning: {note}", file=sys.stderr)
    pinned = ", ".join(keys.fingerprint(key) for key in profile.host_keys)
    config = profile.ssh_config
    print(f"Profile {profile.name!r}: {profile.username}@{profile.host}:{profile.port}")
    print(f"  host key    pinned {pinned}")
    print(f"  key         {profile.key_path} (authorized on the remote; no password is stored)")
    print(f"  remote dir  {profile.remote_conn_dir}")
    print(f"  local dir   {profile.local_conn_dir}")
    print(f"  ssh config  {config} (Host {profile.ssh_alias})")
    # Plain ``ssh`` reads ~/.ssh/config only; anything else needs -F.
    flag = "" if config == Path.home() / ".ssh" / "config" else f'-F "{config}" '
    print(
        f"Connect with: ssh {flag}{profile.ssh_alias}   (VS Code: Remote-SSH → {profile.ssh_alias})"
    )
