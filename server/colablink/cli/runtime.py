"""``colablink runtime``: make this machine a ColabLink runtime from a terminal (no notebook).

For a Kaggle or cloud VM's shell: set up sshd, the user and the tunnel, print the connection
info, keep alive until Ctrl+C, tear down. ``--self-check`` proves the whole path once on a free
port and removes everything it made.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import pwd
import secrets
import shlex
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from colablink_runtime.errors import PortInUse, RuntimeSetupError
from colablink_runtime.info import encode_token
from colablink_runtime.runtime import ColabRuntime
from rich.console import Console

from colablink.errors import UsageError

DEFAULT_PORT = 2222
DESCRIPTION = """\
Make this machine a ColabLink runtime (for a Kaggle or cloud VM's shell, or any Linux box): set
up sshd, the login user and the tunnel, print the connection info, keep alive until Ctrl+C, then
tear down. The ngrok token comes from $NGROK_AUTHTOKEN or a hidden prompt.
"""
SELF_CHECK_PORT_ATTEMPTS = 5


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "runtime",
        help="turn this machine into a ColabLink runtime (sshd, user, tunnel)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--tunnel",
        choices=("ngrok", "none"),
        default="ngrok",
        help="how clients reach sshd: ngrok (default) or none (direct)",
    )
    parser.add_argument("--port", type=int, default=None, help=f"default {DEFAULT_PORT}")
    parser.add_argument("--username", default="colablink", help="login user (root only)")
    parser.add_argument(
        "--remote-root",
        default=None,
        help="working directory for synced projects (default /content as root, else ~/colablink)",
    )
    parser.add_argument(
        "--listen-address", default="127.0.0.1", help="address sshd listens on (tunnels dial it)"
    )
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="set up on a free port, log in once, print the info, tear down and remove it all",
    )
    parser.set_defaults(run=run)


COLAB_NGROK_WARNING = (
    "colablink: warning: Colab's terms do not allow SSH through a tunnel on free runtimes without "
    "a compute-unit balance, and such sessions get warnings and disconnects; on Colab use "
    "`colablink init --colab` on your machine (Google's own channel) instead."
)


def on_colab() -> bool:
    # Colab's runtime image sets these for every process started in it.
    return any(name in os.environ for name in ("COLAB_RELEASE_TAG", "COLAB_BACKEND_VERSION"))


def run(args: argparse.Namespace) -> int:
    if args.tunnel == "ngrok" and on_colab():
        print(COLAB_NGROK_WARNING, file=sys.stderr)
    if args.self_check:
        return _self_check(args)
    return _serve(args)


def _default_remote_root() -> str:
    if os.geteuid() == 0:
        return "/content"
    return str(Path(pwd.getpwuid(os.geteuid()).pw_dir) / "colablink")


def _ngrok_token(tunnel: str) -> str | None:
    """The token comes from $NGROK_AUTHTOKEN or a hidden prompt, never from the command line."""
    if tunnel != "ngrok":
        return None
    token = os.environ.get("NGROK_AUTHTOKEN")
    if token:
        return token
    if not sys.stdin.isatty():
        raise UsageError(
            "The ngrok tunnel needs a token: set NGROK_AUTHTOKEN, or use --tunnel none."
        )
    token = getpass.getpass("ngrok auth token (https://dashboard.ngrok.com): ").strip()
    if not token:
        raise UsageError("No ngrok token given; set NGROK_AUTHTOKEN or use --tunnel none.")
    return token


def _print_info(info: dict[str, Any]) -> None:
    print(json.dumps(info, indent=2))
    print()
    print("Connection token (the same info on one line):")
    print(encode_token(info))
    print()
    print("On your machine run `colablink init` and paste the JSON or the token when it asks.")


def _serve(args: argparse.Namespace) -> int:
    runtime = ColabRuntime(
        ngrok_token=_ngrok_token(args.tunnel),
        username=args.username,
        remote_root=args.remote_root or _default_remote_root(),
        port=args.port or DEFAULT_PORT,
        tunnel=args.tunnel,
        listen_address=args.listen_address,
    )
    console = Console(stderr=True)
    try:
        with console.status("Setting up sshd, the login user and the tunnel…"):
            info = runtime.setup()
        _print_info(info)
        print("Keeping the runtime alive; press Ctrl+C to stop it.", flush=True)
        runtime.keep_alive()
    finally:
        with console.status("Tearing down…"):
            runtime.teardown()
    return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _self_check(args: argparse.Namespace) -> int:
    from colablink.local.keys import generate_keypair

    scratch = Path(tempfile.mkdtemp(prefix="colablink-self-check-"))
    scratch.chmod(0o755)
    key_path = scratch / "client_key"
    public = generate_keypair(key_path, "colablink-self-check")
    root_mode = os.geteuid() == 0
    username = f"clkcheck{secrets.token_hex(4)}" if root_mode else args.username
    state_dir = None if root_mode else _user_state_dir()
    console = Console(stderr=True)
    runtime: ColabRuntime | None = None
    try:
        for _ in range(1 if args.port else SELF_CHECK_PORT_ATTEMPTS):
            runtime = ColabRuntime(
                ngrok_token=_ngrok_token(args.tunnel),
                username=username,
                remote_root=args.remote_root or str(scratch / "work"),
                port=args.port or _free_port(),
                tunnel=args.tunnel,
                authorized_keys=None if root_mode else [public],
                listen_address=args.listen_address,
                state_dir=state_dir,
            )
            try:
                with console.status("Setting up a throwaway runtime…"):
                    info = runtime.setup()
                break
            except PortInUse:
                runtime.teardown(remove=True)
        else:
            raise RuntimeSetupError("No free port for the self-check; pass one with --port.")
        with console.status("Logging in as a client would…"):
            _log_in_once(info, runtime.port, key_path)
        _print_info(info)
        print("Self-check passed: logged in, checked the host key and remote_root.")
    finally:
        if runtime is not None:
            with console.status("Tearing down and removing what the self-check made…"):
                runtime.teardown(remove=True)
        if state_dir is not None:
            shutil.rmtree(state_dir, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _user_state_dir() -> Path:
    """Under the home directory: sshd's StrictModes refuses key files below /tmp."""
    home = Path(pwd.getpwuid(os.geteuid()).pw_dir)
    return home / ".local" / "state" / f"colablink-self-check-{secrets.token_hex(4)}"


def _log_in_once(info: dict[str, Any], local_port: int, key_path: Path) -> None:
    """Connect to sshd directly (a tunnel may not loop back), pin the host key, run a command."""
    import paramiko

    sock = socket.create_connection(("127.0.0.1", local_port), timeout=15)
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=15)
        key = transport.get_remote_server_key()
        if f"{key.get_name()} {key.get_base64()}" not in info["host_keys"]:
            raise RuntimeSetupError("The self-check saw a host key that is not in host_keys.")
        if info["password"] is not None:
            transport.auth_password(info["username"], info["password"])
        else:
            transport.auth_publickey(
                info["username"], paramiko.Ed25519Key.from_private_key_file(str(key_path))
            )
        channel = transport.open_session(timeout=15)
        channel.exec_command(f"id -un && test -w {shlex.quote(info['remote_root'])}")
        output = channel.makefile("rb").read().decode().strip()
        if channel.recv_exit_status() != 0 or output != info["username"]:
            raise RuntimeSetupError(
                "The self-check logged in but the user or its remote_root is not right."
            )
    except paramiko.SSHException as exc:
        raise RuntimeSetupError(f"The self-check could not log in: {exc}.") from None
    finally:
        transport.close()
