"""Which TCP ports the runtime user's processes listen on, and which process holds each.

Two steps, so that an idle runtime costs one ``awk`` over ``/proc/net/tcp{,6}`` per status probe:
the listening sockets of the login user (address, port, socket inode) ride on the status probe,
and only a socket not seen before is looked up to its process (a short stdlib program that reads
the user's own ``/proc/<pid>/fd``). Everything read back comes from the runtime and is parsed
defensively: a line that does not look right is dropped, a process name is cut and cleaned.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from colablink.shown import shown

# At most this many listening sockets are taken from one probe; more is noise, not a port list.
MAX_LISTENING = 64
_MAX_NAME = 40

LISTENING_COMMAND = (
    'awk -v u="$(id -u)" \'$4=="0A" && $8==u {print $2, $10}\' '
    "/proc/net/tcp /proc/net/tcp6 2>/dev/null"
)

# argv: socket inodes; prints "inode pid name" for each one a process of this user holds.
_OWNERS_SOURCE = """\
import os, sys
want = set(sys.argv[1:])
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        fds = os.listdir('/proc/%s/fd' % pid)
    except OSError:
        continue
    for fd in fds:
        try:
            link = os.readlink('/proc/%s/fd/%s' % (pid, fd))
        except OSError:
            continue
        if link.startswith('socket:[') and link[8:-1] in want:
            try:
                name = open('/proc/%s/comm' % pid).read().strip()
            except OSError:
                name = ''
            print(link[8:-1], pid, name)
"""


@dataclass(frozen=True)
class Listening:
    """One listening socket: ``address`` as the runtime listens, ``host`` where to reach it."""

    address: str
    port: int
    inode: int
    host: str


@dataclass(frozen=True)
class Owner:
    pid: int
    name: str


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``/proc/net/tcp`` writes addresses as 32-bit words in host (little-endian) order."""
    if len(hex_address) not in (8, 32):
        return None
    try:
        words = [bytes.fromhex(hex_address[i : i + 8])[::-1] for i in range(0, len(hex_address), 8)]
    except ValueError:
        return None
    packed = b"".join(words)
    return ipaddress.IPv4Address(packed) if len(packed) == 4 else ipaddress.IPv6Address(packed)


def _reach_host(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Where a forward connects: the listening address, or loopback for "any address"."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified:
        return "::1" if address.version == 6 else "127.0.0.1"
    return str(address)


def parse_listening(output: str) -> list[Listening]:
    """The probe's ``address:port inode`` lines; one entry per (address, port)."""
    found: dict[tuple[str, int], Listening] = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) != 2 or not fields[1].isdigit() or len(fields[1]) > 19:
            continue
        hex_address, _, hex_port = fields[0].partition(":")
        address = _address(hex_address)
        if address is None or len(hex_port) != 4:
            continue
        try:
            port = int(hex_port, 16)
        except ValueError:
            continue
        if port == 0:
            continue
        key = (str(address), port)
        if key not in found:
            found[key] = Listening(str(address), port, int(fields[1]), _reach_host(address))
        if len(found) >= MAX_LISTENING:
            break
    return sorted(found.values(), key=lambda item: (item.port, item.address))


def owners_command(inodes: list[int]) -> list[str]:
    return ["python3", "-c", _OWNERS_SOURCE, *(str(inode) for inode in inodes)]


def _clean_name(name: str) -> str:
    return shown(name)[:_MAX_NAME]


def parse_owners(output: str, asked: list[int]) -> dict[int, Owner]:
    """``inode pid name`` lines → owner per asked inode; anything else is ignored."""
    owners: dict[int, Owner] = {}
    wanted = set(asked)
    for line in output.splitlines():
        fields = line.split(maxsplit=2)
        if len(fields) < 2 or not (fields[0].isdigit() and fields[1].isdigit()):
            continue
        inode, pid = int(fields[0]), int(fields[1])
        if inode in wanted and inode not in owners and 0 < pid < 2**31:
            owners[inode] = Owner(pid, _clean_name(fields[2] if len(fields) > 2 else ""))
    return owners
