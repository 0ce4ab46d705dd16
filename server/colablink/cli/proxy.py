"""``colablink proxy PROFILE``: the ProxyCommand of the managed ``Host colablink-<profile>`` block.

While a holder has the profile's connection (the ``watch`` daemon, or an editor window's helper),
OpenSSH's bytes ride it as a ``direct-tcpip`` channel to the runtime's sshd: no second connection
through the transport (Colab's channel takes one at a time) and no second tunnel login. With no
holder up, or when the holder's sshd refuses forwarding, it becomes the profile's transport itself:
it execs the profile's ProxyCommand, or relays to its host and port.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "proxy",
        help="ssh ProxyCommand: reach the runtime's sshd through the agent's connection",
        description="Speak SSH on stdin/stdout to the profile's runtime, through the running "
        "agent's connection when there is one, else through the profile's transport.",
    )
    parser.add_argument("name", metavar="PROFILE")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from colablink.daemon.address import socket_path, window_socket_path
    from colablink.local.profiles import ProfileStore

    profile = ProfileStore().load(args.name)
    for holder in (socket_path(profile.name), window_socket_path(profile.name)):
        held = _through_holder(holder)
        if held is not None:
            return _relay(held)
    if profile.proxy_command is not None:
        argv = profile.proxy_command
        os.execv(argv[0], list(argv))  # noqa: S606 - the profile's stored argv, no shell
    from colablink.ssh.transport import DIRECT, dial

    return _relay(dial(DIRECT, profile.host, profile.port, 15.0).sock)


def _through_holder(path: Path) -> socket.socket | None:
    """A socket already carrying the sshd stream, or None when no holder there can give one."""
    from colablink.daemon.holder import HolderRefused, request_proxy

    try:
        return request_proxy(path)
    except HolderRefused as exc:
        # OpenSSH shows a ProxyCommand's stderr: say why the held connection was not used.
        print(f"colablink: {exc.message}", file=sys.stderr)
        return None


def _relay(sock: socket.socket) -> int:
    """stdin → sock and sock → stdout until the runtime's side ends."""

    def up() -> None:
        try:
            while data := os.read(0, 1 << 16):
                sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    threading.Thread(target=up, daemon=True).start()
    try:
        while data := sock.recv(1 << 16):
            view = memoryview(data)
            while view:
                view = view[os.write(1, view) :]
    except OSError:
        return 1
    return 0
