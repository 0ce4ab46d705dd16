"""Lay a tar stream from the runtime down under a fresh local directory, trusting none of it.

The stream is parsed here (GNU/ustar headers, long names capped) and never handed to tarfile's
extraction, whose filters were missing before 3.12 and bypassable after (CVE-2025-4517). Every
entry is created relative to a directory file descriptor: directories are opened with
``O_NOFOLLOW``, files created with ``O_EXCL``, so no name the runtime sends is resolved through a
link. Symbolic links are created only when their target provably stays inside the copy; hard
links, devices and fifos are reported, never made. Modes follow the local umask and carry only
the executable bit.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from colablink.errors import RemoteError
from colablink.pathsafety import UnsafePath, check_remote_relpath, created_mode

Read = Callable[[int], bytes]
Report = Callable[[str, str], None]

_BLOCK = 512
_LONG_NAME_CAP = 64 * 1024
_CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class CutShort(RemoteError):
    """The stream ended inside a member: a dropped connection, or a runtime that lied."""


class LocalWriteError(Exception):
    """Writing a file here failed midway (a full disk, say): the copy stops."""


@dataclass
class Member:
    name: str
    kind: bytes
    size: int
    mode: int
    linkname: str


def _read_exact(read: Read, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        data = read(n - len(out))
        if not data:
            raise CutShort("The runtime's copy ended in the middle of a file.")
        out += data
    return bytes(out)


def _number(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for sizes past 8 GiB
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.split(b"\0", 1)[0].strip(b" \0")
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise RemoteError("The runtime sent a malformed copy (a bad number).") from None


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _skip(read: Read, size: int) -> None:
    padded = size + (-size % _BLOCK)
    while padded:
        padded -= len(_read_exact(read, min(padded, _CHUNK)))


def members(read: Read) -> Iterator[Member]:
    """Headers of the stream in order; the caller reads (or skips) each member's data."""
    long_name = long_link = None
    while True:
        block = _read_exact(read, _BLOCK)
        if block == bytes(_BLOCK):
            return
        stored = _number(block[148:156])
        if stored != sum(block[:148]) + 8 * 32 + sum(block[156:]):
            raise RemoteError("The runtime sent a malformed copy (a bad header checksum).")
        kind, size = block[156:157], _number(block[124:136])
        if kind in (b"L", b"K"):
            if size > _LONG_NAME_CAP:
                raise RemoteError("The runtime sent a malformed copy (a name too long).")
            value = _text(_read_exact(read, size + (-size % _BLOCK))[:size])
            if kind == b"L":
                long_name = value
            else:
                long_link = value
            continue
        name = _text(block[0:100])
        if block[257:265] == b"ustar\x0000" and block[345:500].strip(b"\0"):
            name = _text(block[345:500]) + "/" + name
        yield Member(
            long_name if long_name is not None else name,
            kind,
            size,
            _number(block[100:108]),
            long_link if long_link is not None else _text(block[157:257]),
        )
        long_name = long_link = None


def _contained_link(rel: str, target: str) -> bool:
    """A relative target made of leading ``..`` only, never climbing above the copy's top.

    The link's own directory was made here (no links in it), so its ``..`` steps are real; every
    later step descends, through directories or links that obey the same rule: the chain stays
    inside.
    """
    if not target or "\0" in target or target.startswith("/"):
        return False
    parts = [p for p in target.split("/") if p not in ("", ".")]
    ups = 0
    while ups < len(parts) and parts[ups] == "..":
        ups += 1
    return ".." not in parts[ups:] and ups <= rel.count("/")


class Landing:
    """Creates the copy's entries under ``root_fd`` (a directory this process just made)."""

    def __init__(self, root_fd: int, report: Report) -> None:
        self.root_fd = root_fd
        self.report = report

    def _parent(self, rel: str) -> tuple[int, str]:
        """An open fd of ``rel``'s parent (created as needed, never through a link) and its name."""
        *dirs, name = rel.split("/")
        fd = os.dup(self.root_fd)
        try:
            for part in dirs:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd, name

    def add(self, member: Member, rel: str, read: Read) -> None:
        """Create ``member`` at ``rel`` (checked already) and consume its data."""
        kind = member.kind
        if kind in _FILE_KINDS:
            try:
                out = self._open_file(rel, member.mode)
            except OSError:
                _skip(read, member.size)
                raise
            try:
                _copy(read, member.size, out)
            finally:
                os.close(out)
            return
        _skip(read, member.size)
        if kind == b"5":
            fd, name = self._parent(rel)
            try:
                try:
                    os.mkdir(name, 0o777, dir_fd=fd)
                except FileExistsError:
                    os.close(os.open(name, _DIR_FLAGS, dir_fd=fd))  # a directory, not a link
            finally:
                os.close(fd)
        elif kind == b"2" and _contained_link(rel, member.linkname):
            fd, name = self._parent(rel)
            try:
                os.symlink(member.linkname, name, dir_fd=fd)
            finally:
                os.close(fd)
        else:
            self.report(rel, f"skipped: {_SKIPPED.get(kind, 'an entry of an unknown kind')}")

    def _open_file(self, rel: str, mode: int) -> int:
        fd, name = self._parent(rel)
        try:
            # The umask decides the rest; only the executable bit comes from the runtime.
            return os.open(name, _FILE_FLAGS, created_mode(mode), dir_fd=fd)
        finally:
            os.close(fd)


_FILE_KINDS = (b"0", b"\0", b"7")
_SKIPPED = {
    b"1": "a hard link",
    b"2": "a link pointing outside the copy",
    b"3": "a device",
    b"4": "a device",
    b"6": "a fifo",
}


def _copy(read: Read, size: int, out: int) -> None:
    left = size
    while left:
        data = read(min(left, _CHUNK))
        if not data:
            raise CutShort("The runtime's copy ended in the middle of a file.")
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(out, view) :]
        except OSError as exc:
            # Half a member consumed: the stream cannot go on.
            raise LocalWriteError(exc.strerror or str(exc)) from None
        left -= len(data)
    _read_exact(read, -size % _BLOCK)


def land(read: Read, root_fd: int, entry: str, report: Report, on_file: Callable[[], None]) -> None:
    """Every member of the stream under ``root_fd/entry``: the stream's top name is replaced."""
    landing = Landing(root_fd, report)
    top: str | None = None
    for member in members(read):
        first, _, rest = member.name.rstrip("/").partition("/")
        top = first if top is None else top
        try:
            if first != top:
                raise UnsafePath(f"outside the copy: {member.name!r}")
            rel = check_remote_relpath(posixpath.join(entry, rest) if rest else entry)
        except UnsafePath as exc:
            _skip(read, member.size)
            report(member.name, str(exc))
            continue
        try:
            landing.add(member, rel, read)
        except OSError as exc:
            # Already created here (a repeated name), or a link where a directory goes.
            report(rel, f"skipped: {exc.strerror or exc}")
            continue
        if member.kind in _FILE_KINDS:
            on_file()


def merge(src_fd: int, dst_fd: int, report: Report, where: str = "") -> None:
    """Move the landed tree at ``src_fd`` into the existing directory ``dst_fd`` (``cp -r``'s
    ``dir/.``): directories merge, files replace files; nothing local is followed or replaced
    by a directory, and what cannot move is reported and left out."""
    for name in sorted(os.listdir(src_fd)):
        rel = f"{where}{name}"
        st = os.stat(name, dir_fd=src_fd, follow_symlinks=False)
        try:
            local = os.stat(name, dir_fd=dst_fd, follow_symlinks=False)
        except FileNotFoundError:
            local = None
        if local is not None and stat.S_ISDIR(local.st_mode) != stat.S_ISDIR(st.st_mode):
            report(rel, "skipped: a local entry of another kind is in the way")
            continue
        if stat.S_ISDIR(st.st_mode) and local is not None:
            child_src = os.open(name, _DIR_FLAGS, dir_fd=src_fd)
            try:
                child_dst = os.open(name, _DIR_FLAGS, dir_fd=dst_fd)
                try:
                    merge(child_src, child_dst, report, f"{rel}/")
                finally:
                    os.close(child_dst)
            finally:
                os.close(child_src)
        else:
            os.rename(name, name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
