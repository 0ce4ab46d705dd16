"""Unpack a tar stream from the runtime into a local directory, trusting nothing in it.

tarfile only parses the stream here; none of its extraction is used. Its filters are missing
before Python 3.11.4 and were bypassable after (CVE-2025-4517: symlink chains longer than
PATH_MAX that ``realpath`` stops resolving while the kernel still follows them). Instead every
directory and file is made relative to a directory file descriptor opened with ``O_NOFOLLOW``, so
no symlink, sent or planted meanwhile, is ever followed on the way in; files land under an
``O_EXCL`` temporary name and are renamed into place. Names follow ``pathsafety``'s rules; links
that could climb out, hard links, devices and fifos are reported and skipped.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from colablink.pathsafety import UnsafePath, check_remote_relpath, link_stays_inside, printable

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20
_TEMP_PREFIX = ".colablink-part."

Report = Callable[[str, str], object]
"""``report(path, why)`` for each entry that was not unpacked."""


def umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def local_mode(remote_mode: int, mask: int) -> int:
    """A pulled file's mode: this machine's umask, carrying only the runtime's executable bit."""
    base = 0o666 & ~mask
    return base | (0o111 & ~mask) if remote_mode & 0o100 else base


@contextlib.contextmanager
def open_dir(path: Path) -> Iterator[int]:
    fd = os.open(path, _DIR_FLAGS)
    try:
        yield fd
    finally:
        os.close(fd)


def open_child_dir(parent: int, name: str, *, create: bool) -> int:
    """The directory ``name`` in ``parent`` (made if missing and ``create``); never a symlink."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
    except OSError:  # ELOOP: a symlink; ENOTDIR: something else
        raise UnsafePath(f"{printable(name)!r} is not a plain directory here") from None
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o777, dir_fd=parent)
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError:
        raise UnsafePath(f"{printable(name)!r} is not a plain directory here") from None


def open_parents(root: int, parts: list[str]) -> int:
    """A descriptor of the directory ``parts`` under ``root``, made as needed; caller closes it."""
    fd = os.dup(root)
    for part in parts:
        try:
            child = open_child_dir(fd, part, create=True)
        finally:
            os.close(fd)
        fd = child
    return fd


def write_file(parent: int, name: str, data: IO[bytes], mode: int) -> None:
    """``data`` as ``name`` in ``parent``: a fresh temporary first, renamed over ``name`` whole."""
    temp = f"{_TEMP_PREFIX}{secrets.token_hex(6)}"
    fd = os.open(temp, _NEW_FILE_FLAGS, 0o600, dir_fd=parent)
    try:
        with os.fdopen(fd, "wb", closefd=False) as out:
            while chunk := data.read(_CHUNK):
                out.write(chunk)
        os.fchmod(fd, mode)
        os.close(fd)
        fd = -1
        os.rename(temp, name, src_dir_fd=parent, dst_dir_fd=parent)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=parent)
        raise


def unpack(
    stream: IO[bytes],
    into: Path,
    top: str,
    *,
    entry: str,
    bufsize: int,
    on_file: Callable[[], object],
    report: Report,
) -> None:
    """Unpack a stream whose entries all sit under ``top`` into ``into`` (an empty directory).

    ``top`` itself lands as ``into/entry``. Entries outside it, or with unsafe names, are reported.
    """
    mask = umask()
    with open_dir(into) as root, tarfile.open(fileobj=stream, mode="r|", bufsize=bufsize) as tar:
        for member in tar:
            name = member.name.rstrip("/") or member.name
            first, _, rest = name.partition("/")
            shown = printable(rest or name)
            if first != top or (rest and not _safe(rest)):
                report(shown, "its name is not a safe path inside the download")
                continue
            parts = [entry, *rest.split("/")] if rest else [entry]
            try:
                _unpack_member(tar, member, root, parts, mask, on_file, report, shown)
            except UnsafePath as exc:
                report(shown, str(exc))


def _safe(rest: str) -> bool:
    try:
        check_remote_relpath(rest)
    except UnsafePath:
        return False
    return True


def _unpack_member(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    root: int,
    parts: list[str],
    mask: int,
    on_file: Callable[[], object],
    report: Report,
    shown: str,
) -> None:
    if member.isdir():
        os.close(open_parents(root, parts))
        return
    if not (member.isreg() or member.issym()):
        kind = "hard link" if member.islnk() else "device or fifo"
        report(shown, f"it is a {kind} on the runtime")
        return
    if member.issym() and not link_stays_inside(member.linkname, len(parts) - 2):
        report(shown, f"its link target {printable(member.linkname)!r} leaves the download")
        return
    parent = open_parents(root, parts[:-1])
    try:
        if member.issym():
            try:
                os.symlink(member.linkname, parts[-1], dir_fd=parent)
            except FileExistsError:
                report(shown, "it was sent twice")
            return
        data = tar.extractfile(member)
        if data is None:
            return
        try:
            write_file(parent, parts[-1], data, local_mode(member.mode, mask))
        except IsADirectoryError:
            report(shown, "a directory of that name was sent too")
            return
        on_file()
    finally:
        os.close(parent)


def is_plain_dir(parent: int, name: str) -> bool:
    try:
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(st.st_mode)
