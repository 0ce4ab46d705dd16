"""``python -m colablink.helper``: serve one editor window over stdio until it goes away."""

from __future__ import annotations

import asyncio
import sys
from typing import BinaryIO

from colablink.helper import logs
from colablink.helper.execs import ExecRunner
from colablink.helper.hub import Hub
from colablink.helper.lifecycle import Lifecycle
from colablink.helper.notifier import Notifier
from colablink.helper.ptys import PtyRegistry
from colablink.helper.rpc_server import HelperServer
from colablink.helper.server import Helper, register
from colablink.helper.transfers import Transfers


async def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    loop = asyncio.get_running_loop()
    server = HelperServer()
    notifier = Notifier(server.protocol, loop)
    hub = Hub(notifier)
    execs = ExecRunner(notifier)
    ptys = PtyRegistry(notifier)
    transfers = Transfers()
    lifecycle = Lifecycle(hub, execs, transfers, ptys)
    register(Helper(server, hub, execs, transfers, ptys, lifecycle))
    logs.attach_client(server, loop)
    try:
        await server.serve_stdio(stdin, stdout, lambda: lifecycle.shutting_down)
    finally:
        await lifecycle.client_gone()


def main() -> int:
    logs.configure_stderr("info")
    try:
        asyncio.run(serve(sys.stdin.buffer, sys.stdout.buffer))
    except SystemExit as exc:  # the ``exit`` notification
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        return 130
    return 0
