"""The runtime's listening ports as the window shows them: each with the process that holds it.

A socket's process is looked up once, when the socket first shows up in the status probe; the
runtime's own sshd (which runs as the login user in user mode) and the Jupyter server and kernels
ColabLink starts (named by ``jupyter_env.py`` and ``kernel_launcher.py``; the kernel picker
forwards the server itself) are not ports to offer.
"""

from __future__ import annotations

from collections.abc import Callable

from colablink.helper.protocol import RuntimePort
from colablink.ports import Listening, Owner, parse_owners

# Runs ``ports.owners_command(inodes)`` on the runtime and returns its stdout.
Lookup = Callable[[list[int]], str]

_NOT_OFFERED = frozenset({"sshd", "colablink-jupy", "colablink-kern"})


class PortWatch:
    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self._owners: dict[int, Owner | None] = {}

    def update(self, listening: list[Listening]) -> list[RuntimePort]:
        new = [item.inode for item in listening if item.inode not in self._owners]
        if new:
            found = parse_owners(self._lookup(new), new)
            for inode in new:
                self._owners[inode] = found.get(inode)
        # Forget sockets that closed, so the cache stays as small as the port list.
        current = {item.inode for item in listening}
        self._owners = {k: v for k, v in self._owners.items() if k in current}
        ports: list[RuntimePort] = []
        for item in listening:
            owner = self._owners.get(item.inode)
            if owner is not None and owner.name in _NOT_OFFERED:
                continue
            ports.append(
                {
                    "port": item.port,
                    "address": item.address,
                    "host": item.host,
                    "process": None if owner is None else owner.name,
                    "pid": None if owner is None else owner.pid,
                }
            )
        return ports
