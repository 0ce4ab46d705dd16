"""The remote sync agent: a standard-library-only program the local side starts over SSH.

It is sent as source over an exec channel (see ``BOOTSTRAP`` on the local side), so the runtime
never needs a matching install. It speaks one framed, pipelined protocol on stdin/stdout: every
frame is ``>II`` (header length, body length), a JSON header with an ``op``, and a binary body.
Requests carry a ``seq``; replies name it. Nothing waits for a reply per file: the local side
streams puts and reads the acknowledgements as they come.

Writes are atomic (temp file in the same directory, renamed into place, mode and mtime kept).
Temp files are named ``.clk~<pid>~<n>~<name>``; the agent removes its own on exit and, when it
scans a tree, those left by agents that are no longer alive. It exits when stdin closes.
"""

# The agent handles many paths per second as plain strings; pathlib objects would only add cost.
# ruff: noqa: PTH101, PTH103, PTH104, PTH106, PTH108, PTH112, PTH114, PTH115, PTH118, PTH120, PTH208

from __future__ import annotations

import contextlib
import ctypes
import errno
import gc
import hashlib
import json
import os
import queue
import select
import signal
import stat
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

PROTOCOL_VERSION = 1
FRAME_HEADER = struct.Struct(">II")
MAX_HEADER = 64 * 1024 * 1024
MAX_BODY = 64 * 1024 * 1024
TEMP_PREFIX = ".clk~"
# A changed file up to this size travels inside the change event, saving the read round trip.
INLINE_LIMIT = 256 * 1024
# An event frame holds at most this many entries and inline bytes (a directory moved in can hold
# thousands of files: one frame would exceed what the local side accepts).
EVENT_ENTRIES = 1000
EVENT_BODY = 8 * 1024 * 1024
READ_CHUNK = 1024 * 1024
# Frames read ahead of the one being written to disk (a few MiB each).
READ_AHEAD = 8
# A file still being written is checked for an appending writer after this long, and while one
# grows, its new bytes are reported this often (the log lag the local side sees).
GROW_AFTER = 0.2
GROW_TICK = 0.25
O_APPEND_FLAG = 0o2000

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_DONT_FOLLOW = 0x02000000
IN_ISDIR = 0x40000000
WATCH_MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_DONT_FOLLOW
)
EVENT = struct.Struct("iIII")

Entry = list[Any]  # [path, kind, size, mtime_ns, mode]


class ProtocolError(Exception):
    """The peer sent something this agent cannot act on."""


def check_relpath(rel: str) -> str:
    """Refuse anything that could leave the root: absolute, ``..``, empty parts, NUL."""
    if not isinstance(rel, str) or not rel or "\x00" in rel or rel.startswith("/"):
        raise ProtocolError(f"bad path {rel!r}")
    parts = rel.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ProtocolError(f"bad path {rel!r}")
    return rel


def inside(root: str, rel: str, verified: dict[str, str] | None = None) -> str:
    """The absolute path of ``rel`` under ``root``, refusing parents that are symlinks.

    ``verified`` caches, within one request, the parents already checked and (keyed with a
    leading NUL, which no path has) the real path of every directory looked at.
    """
    full = os.path.join(root, check_relpath(rel))
    parent = os.path.dirname(full)
    if verified is not None and parent in verified:
        return full
    cache: dict[str, str] = {} if verified is None else verified
    real_root = _real_dir(root, root, cache)
    real_parent = _real_dir(root, parent, cache)
    if real_parent != real_root and not real_parent.startswith(real_root + os.sep):
        raise ProtocolError(f"path {rel!r} leaves the root through a symlink")
    if verified is not None:
        verified[parent] = real_parent
    return full


def _real_dir(root: str, path: str, cache: dict[str, str]) -> str:
    """``realpath(path)``, one lstat per directory below ``root`` per request: a first sync
    checks thousands of nested directories, and realpath stats every component of each."""
    key = "\0" + path
    known = cache.get(key)
    if known is None:
        above, base = os.path.split(path)
        if path == root or not above.startswith(root):
            known = os.path.realpath(path)
        else:
            try:
                is_dir = stat.S_ISDIR(os.lstat(path).st_mode)
            except OSError:
                is_dir = False
            real_above = _real_dir(root, above, cache)
            known = os.path.join(real_above, base) if is_dir else os.path.realpath(path)
        cache[key] = known
    return known


def temp_name(directory: str, name: str, counter: int) -> str:
    return os.path.join(directory, f"{TEMP_PREFIX}{os.getpid()}~{counter}~{name[:80]}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_temp(name: str) -> bool:
    """A temp file whose writer is gone (a killed agent, an interrupted run)."""
    if not name.startswith(TEMP_PREFIX):
        return False
    pid_text = name[len(TEMP_PREFIX) :].split("~", 1)[0]
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    return pid != os.getpid() and not pid_alive(pid)


def entry_of(rel: str, st: os.stat_result) -> Entry | None:
    if stat.S_ISREG(st.st_mode):
        kind = "f"
    elif stat.S_ISDIR(st.st_mode):
        kind = "d"
    elif stat.S_ISLNK(st.st_mode):
        kind = "l"
    else:
        return None
    size = st.st_size if kind == "f" else 0
    return [rel, kind, size, st.st_mtime_ns, stat.S_IMODE(st.st_mode)]


def scan_tree(
    root: str, prune: set[str], prune_names: set[str], versions: bool = False
) -> Iterator[Entry]:
    """Walk ``root`` without following symlinks, skipping pruned dirs and our temp files.

    With ``versions``, each entry also carries ``-1`` (no inline content) and its ctime: the
    version stamp pull orders copies by (ctime only moves forward; mtime can be set back)."""
    return walk(root, [""], True, prune, prune_names, versions)


def list_dirs(
    root: str, dirs: list[str], prune: set[str], prune_names: set[str]
) -> Iterator[Entry]:
    """The entries directly in ``dirs`` (directories of the tree, checked by the caller)."""
    return walk(root, list(dirs), False, prune, prune_names, False)


def walk(
    root: str,
    stack: list[str],
    recursive: bool,
    prune: set[str],
    prune_names: set[str],
    versions: bool,
) -> Iterator[Entry]:
    """The one listing loop. The stat is read inline (as ``entry_of`` reads it): this runs once
    per entry of every listing, and a no-change pass waits for it."""
    while stack:
        rel_dir = stack.pop()
        prefix = rel_dir + "/" if rel_dir else ""
        try:
            it = os.scandir(os.path.join(root, rel_dir) if rel_dir else root)
        except OSError:
            continue
        with it:
            for dent in it:
                name = dent.name
                if name.startswith(TEMP_PREFIX):
                    if stale_temp(name):
                        with contextlib.suppress(OSError):
                            os.unlink(dent.path)
                    continue
                try:
                    st = dent.stat(follow_symlinks=False)
                except OSError:
                    continue
                fmt = stat.S_IFMT(st.st_mode)
                rel = prefix + name
                if fmt == stat.S_IFREG:
                    entry = [rel, "f", st.st_size, st.st_mtime_ns, st.st_mode & 0o7777]
                elif fmt == stat.S_IFDIR:
                    if rel in prune or name in prune_names:
                        continue
                    entry = [rel, "d", 0, st.st_mtime_ns, st.st_mode & 0o7777]
                    if recursive:
                        stack.append(rel)
                elif fmt == stat.S_IFLNK:
                    entry = [rel, "l", 0, st.st_mtime_ns, st.st_mode & 0o7777]
                else:
                    continue
                if versions:
                    entry += [-1, st.st_ctime_ns]
                yield entry


def digest_of(lines: list[str]) -> str:
    """The digest of one directory from its entries' lines, in any order. A line is what a
    push pass compares: ``name/f<size>.<mtime_ns>.<mode>`` for a file, ``name/l<mtime_ns>``
    for a symlink, ``name/d`` for a directory (the local side makes the same lines)."""
    lines.sort()
    text = "\0".join(lines).encode("utf-8", "surrogateescape")
    return hashlib.sha256(text).hexdigest()[:32]


def tree_digests(root: str, prune: set[str], prune_names: set[str]) -> dict[str, str]:
    """A digest per directory of the tree (``""`` for the root), of exactly what ``scan_tree``
    lists. The listing loop, specialised: a file's line needs neither its path nor an entry,
    and this is all the runtime does for a pass over an unchanged tree."""
    digests: dict[str, str] = {}
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        prefix = rel_dir + "/" if rel_dir else ""
        lines: list[str] = []
        try:
            it = os.scandir(os.path.join(root, rel_dir) if rel_dir else root)
        except OSError:
            digests[rel_dir] = digest_of(lines)
            continue
        with it:
            for dent in it:
                name = dent.name
                if name.startswith(TEMP_PREFIX):
                    if stale_temp(name):
                        with contextlib.suppress(OSError):
                            os.unlink(dent.path)
                    continue
                try:
                    st = dent.stat(follow_symlinks=False)
                except OSError:
                    continue
                fmt = stat.S_IFMT(st.st_mode)
                if fmt == stat.S_IFREG:
                    lines.append(f"{name}/f{st.st_size}.{st.st_mtime_ns}.{st.st_mode & 0o7777}")
                elif fmt == stat.S_IFDIR:
                    rel = prefix + name
                    if rel in prune or name in prune_names:
                        continue
                    lines.append(f"{name}/d")
                    stack.append(rel)
                elif fmt == stat.S_IFLNK:
                    lines.append(f"{name}/l{st.st_mtime_ns}")
        digests[rel_dir] = digest_of(lines)
    return digests


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No collection while a listing builds tens of thousands of small objects: each pass of
    the collector walks all of them, which costs more than the listing itself."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def file_hash(path: str, limit: int | None = None) -> str | None:
    """SHA-256 of a regular file (of its first ``limit`` bytes), or None when it cannot be read
    (or is shorter than ``limit``): it is then sent, not trusted.

    The local side hashes its own files with this too, so both sides agree on the digest.
    """
    digest = hashlib.sha256()
    left = limit if isinstance(limit, int) and limit >= 0 else None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            while left is None or left > 0:
                chunk = handle.read(READ_CHUNK if left is None else min(left, READ_CHUNK))
                if not chunk:
                    break
                digest.update(chunk)
                if left is not None:
                    left -= len(chunk)
    except OSError:
        return None
    if left:
        return None
    return digest.hexdigest()


class Output:
    """Frames to stdout; shared by the request loop and the watcher thread."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()

    def send(self, header: dict[str, Any], body: bytes | bytearray | memoryview = b"") -> None:
        head = json.dumps(header, separators=(",", ":")).encode()
        data = FRAME_HEADER.pack(len(head), len(body)) + head
        with self.lock:
            self._write(data)
            if body:
                self._write(memoryview(body))

    def _write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]


class Writer:
    """Atomic file writes under one root, with a record of temp files still open.

    Nothing is flushed to disk: the runtime's tree is a mirror that every pass checks against
    the local one (size, mtime, mode), and a file a crash lost or left empty shows there as
    different (ext4 and XFS commit a new file's size with its data), so it is sent again. A
    flush would wait for everything else dirty on the filesystem instead: a syncfs behind a
    1 GiB checkpoint the job had just written took 1.6 s here.
    """

    def __init__(self) -> None:
        self.counter = 0
        self.open_temps: set[str] = set()
        self.umask = os.umask(0o022)
        os.umask(self.umask)
        self.streams: dict[int, tuple[int, str, str, int, int]] = {}

    def _temp(self, final: str, mode: int = 0o600) -> tuple[int, str]:
        directory, name = os.path.split(final)
        self.counter += 1
        temp = temp_name(directory, name, self.counter)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            fd = os.open(temp, flags, mode & 0o777)
        except FileNotFoundError:
            # Parents are made only when missing: a first sync's mkdir request made them all.
            os.makedirs(directory, exist_ok=True)
            fd = os.open(temp, flags, mode & 0o777)
        self.open_temps.add(temp)
        return fd, temp

    def _finish(self, fd: int, temp: str, final: str, mtime_ns: int, mode: int) -> None:
        try:
            # Created with the final mode; only bits the umask took (or special bits) need a chmod.
            if mode & 0o7777 != mode & 0o777 & ~self.umask:
                os.fchmod(fd, mode & 0o7777)
            os.utime(fd, ns=(mtime_ns, mtime_ns))
            try:
                os.rename(temp, final)
            except OSError:
                self.discard(temp)
                raise
            self.open_temps.discard(temp)
        finally:
            os.close(fd)

    def write(
        self,
        final: str,
        data: memoryview,
        mtime_ns: int,
        mode: int,
    ) -> None:
        fd, temp = self._temp(final, mode)
        try:
            view = data
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            os.close(fd)
            self.discard(temp)
            raise
        self._finish(fd, temp, final, mtime_ns, mode)

    def begin(self, fid: int, final: str, mtime_ns: int, mode: int) -> None:
        fd, temp = self._temp(final, mode)
        self.streams[fid] = (fd, temp, final, mtime_ns, mode)

    def chunk(self, fid: int, data: memoryview) -> None:
        fd = self.streams[fid][0]
        view = data
        while view:
            view = view[os.write(fd, view) :]

    def end(self, fid: int) -> None:
        fd, temp, final, mtime_ns, mode = self.streams.pop(fid)
        self._finish(fd, temp, final, mtime_ns, mode)

    def abort(self, fid: int) -> None:
        stream = self.streams.pop(fid, None)
        if stream is not None:
            os.close(stream[0])
            self.discard(stream[1])

    def discard(self, temp: str) -> None:
        self.open_temps.discard(temp)
        with contextlib.suppress(OSError):
            os.unlink(temp)

    def cleanup(self) -> None:
        for fid in list(self.streams):
            self.abort(fid)
        for temp in list(self.open_temps):
            self.discard(temp)


_LIBC: list[ctypes.CDLL | None] = []


def libc() -> ctypes.CDLL | None:
    """The C library, looked up once: the process's own symbols include it, which spares
    ``ctypes.util`` (an import and a search of the library path) on every start."""
    if not _LIBC:
        try:
            found: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
        except OSError:
            found = None
        if found is None or not hasattr(found, "inotify_init1"):
            from ctypes.util import find_library  # only where the process's symbols lack it

            name = find_library("c")
            found = ctypes.CDLL(name, use_errno=True) if name else found
        _LIBC.append(found)
    return _LIBC[0]


class Inotify:
    """Recursive inotify through ctypes; raises OSError where inotify is unavailable."""

    def __init__(self, root: str) -> None:
        lib = libc()
        if lib is None:
            raise OSError("no libc")
        self.libc = lib
        if not hasattr(self.libc, "inotify_init1"):
            raise OSError("no inotify")
        fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self.fd = fd
        self.root = root
        self.dirs: dict[int, str] = {}

    def add_tree(self, rel_dir: str) -> list[str]:
        """Watch ``rel_dir`` and everything below it; return the files found there."""
        found: list[str] = []
        stack = [rel_dir]
        while stack:
            current = stack.pop()
            full = os.path.join(self.root, current) if current else self.root
            wd = self.libc.inotify_add_watch(self.fd, os.fsencode(full), WATCH_MASK)
            if wd < 0:
                continue
            self.dirs[wd] = current
            try:
                with os.scandir(full) as it:
                    for dent in it:
                        rel = f"{current}/{dent.name}" if current else dent.name
                        if dent.is_dir(follow_symlinks=False):
                            stack.append(rel)
                        else:
                            found.append(rel)
            except OSError:
                continue
        return found

    def under(self, rel_dir: str) -> list[int]:
        """The watches on ``rel_dir`` and the directories below it."""
        prefix = rel_dir + "/"
        return [wd for wd, path in self.dirs.items() if path == rel_dir or path.startswith(prefix)]

    def moved(self, src: str, dst: str) -> list[str]:
        """A watched directory renamed within the root: its watches (which follow the inodes)
        carry the new names; return the files found below it now."""
        for wd in self.under(src):
            self.dirs[wd] = dst + self.dirs[wd][len(src) :]
        return self.add_tree(dst)

    def drop(self, wds: list[int]) -> None:
        """Stop watching directories moved out of the root, whose events would otherwise come
        under their old names."""
        for wd in wds:
            if self.dirs.pop(wd, None) is not None:
                self.libc.inotify_rm_watch(self.fd, wd)

    def read(self, timeout: float) -> list[tuple[int, str, str, int]] | None:
        """Events as (mask, rel path, kind hint, rename cookie); None on queue overflow."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return []
        events: list[tuple[int, str, str, int]] = []
        # The two halves of a rename are queued together, but a read can end between them:
        # the other half is fetched at once, or the old name would look removed and the new
        # one created.
        while not events or events[-1][0] & IN_MOVED_FROM:
            try:
                data = os.read(self.fd, 256 * 1024)
            except BlockingIOError:
                return events
            if not self.parse(data, events):
                return None
        return events

    def parse(self, data: bytes, events: list[tuple[int, str, str, int]]) -> bool:
        """Append the events in ``data``; False on queue overflow."""
        offset = 0
        while offset < len(data):
            wd, mask, cookie, length = EVENT.unpack_from(data, offset)
            raw = data[offset + EVENT.size : offset + EVENT.size + length].rstrip(b"\x00")
            offset += EVENT.size + length
            if mask & IN_Q_OVERFLOW:
                return False
            if mask & IN_IGNORED:
                self.dirs.pop(wd, None)
                continue
            base = self.dirs.get(wd)
            if base is None or not raw:
                continue
            name = os.fsdecode(raw)
            rel = f"{base}/{name}" if base else name
            events.append((mask, rel, "d" if mask & IN_ISDIR else "f", cookie))
        return True


def appending(paths: dict[str, str]) -> set[str]:
    """Which of ``paths`` (real absolute path -> rel) a process holds open for appending: with
    ``O_APPEND`` (a logging handler, ``>>``) or as its stdout or stderr (``> train.log``).

    Such a file is a log, whose growth is reported while it happens; any other file being
    written (a checkpoint) is reported only once it is closed or settled."""
    found: set[str] = set()
    me = str(os.getpid())
    try:
        pids = [pid for pid in os.listdir("/proc") if pid.isdigit() and pid != me]
    except OSError:
        return found
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                rel = paths.get(os.readlink(f"{fd_dir}/{fd}"))
            except OSError:
                continue
            if rel is None or rel in found:
                continue
            flags = 0
            try:
                with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as info:
                    for line in info:
                        if line.startswith("flags:"):
                            flags = int(line.split()[1], 8)
                            break
            except (OSError, ValueError, IndexError):
                continue
            if flags & 3 != os.O_RDONLY and (flags & O_APPEND_FLAG or fd in ("1", "2")):
                found.add(rel)
    return found


class Watcher(threading.Thread):
    """Reports files under one root once settled: closed after writing, or quiet for ``settle`` s.

    A file a process holds open for appending (a training log) is also reported while it grows
    (flag ``"a"``), so the local side can pull just the new bytes. Renames within the root are
    reported as renames and removals as removals, in the order they happened, so the local side
    can follow a safe-save (``x.tmp`` renamed to ``x``) and never pull a file that is gone.
    Entries are ``[path, kind, size, mtime_ns, mode, inline length, ctime_ns, flag]``.
    """

    def __init__(
        self,
        out: Output,
        wid: int,
        root: str,
        settle: float,
        interval: float,
        mode: str,
        on_lost: Callable[[], None],
    ) -> None:
        super().__init__(daemon=True)
        self.on_lost = on_lost
        self.out = out
        self.wid = wid
        self.root = root
        self.settle = settle
        self.interval = interval
        self.inotify: Inotify | None = None
        if mode != "poll":
            try:
                self.inotify = Inotify(root)
            except OSError:
                self.inotify = None
        self.mode = "inotify" if self.inotify else "poll"
        self.snapshot: dict[str, tuple[Any, ...]] = {}
        # Files written and not yet settled (rel -> last write, first write), read by manifest
        # requests on the main thread: a full pass leaves them to this watcher.
        self.lock = threading.Lock()
        self.pending: dict[str, float] = {}
        self.first: dict[str, float] = {}
        self.checked: set[str] = set()  # pending files already looked up for an appender
        # appended-to files -> (size last reported, when): at most one report per GROW_TICK
        self.growing: dict[str, tuple[int, float]] = {}

    def hot(self) -> list[str]:
        with self.lock:
            return list(self.pending)

    def pages(
        self, rels: list[str], grow: bool = False, inline: bool = True
    ) -> Iterator[tuple[list[Entry], bytes]]:
        """Entries for ``rels`` that still exist, in frames of at most ``EVENT_ENTRIES`` entries
        and about ``EVENT_BODY`` inline bytes."""
        entries: list[Entry] = []
        chunks: list[bytes] = []
        size = 0
        for rel in dict.fromkeys(rels):
            full = os.path.join(self.root, rel)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            entry = entry_of(rel, st)
            if entry is None or rel.rsplit("/", 1)[-1].startswith(TEMP_PREFIX):
                continue
            # Small files travel inside the event; -1 tells the client to fetch the rest.
            data: bytes | None = None
            if inline and entry[1] == "f" and entry[2] <= INLINE_LIMIT and not grow:
                data = read_settled(full, st)
                if data is None:
                    continue  # still changing: its close brings another event
            entry += [-1 if data is None else len(data), st.st_ctime_ns, "a" if grow else ""]
            if entries and (len(entries) >= EVENT_ENTRIES or size + len(data or b"") > EVENT_BODY):
                yield entries, b"".join(chunks)
                entries, chunks, size = [], [], 0
            entries.append(entry)
            chunks.append(data or b"")
            size += len(data or b"")
        if entries:
            yield entries, b"".join(chunks)

    def entries(self, rels: list[str]) -> tuple[list[Entry], bytes]:
        """One frame's worth: for a few files."""
        for page in self.pages(rels):
            return page
        return [], b""

    def emit(self, rels: list[str], grow: bool = False) -> None:
        for entries, body in self.pages(rels, grow):
            self.out.send({"op": "changed", "watch": self.wid, "entries": entries}, body)

    def run(self) -> None:
        try:
            if self.inotify is not None:
                self.run_inotify(self.inotify)
            else:
                self.run_poll()
        except OSError:
            # The channel is gone: leave no temp file behind, exactly as a stdin EOF would.
            self.on_lost()

    def prepare(self) -> None:
        """Establish the watches (or the first snapshot) before the watch request is answered,
        so nothing created right after the answer goes unseen."""
        if self.inotify is not None:
            self.inotify.add_tree("")
        else:
            self.snapshot = self.poll_snapshot()

    def poll_snapshot(self) -> dict[str, tuple[Any, ...]]:
        return {e[0]: tuple(e[1:]) for e in scan_tree(self.root, set(), set())}

    def run_inotify(self, inotify: Inotify) -> None:
        while True:
            with self.lock:
                busy = bool(self.pending)
            events = inotify.read(min(GROW_TICK, self.settle / 2) if busy else 1.0)
            if events is None:
                self.overflowed(inotify)
            else:
                self.handle(inotify, events)
            self.tick()

    def written(self, rel: str, now: float) -> None:
        with self.lock:
            self.pending[rel] = now
            self.first.setdefault(rel, now)

    def forget(self, rel: str) -> None:
        with self.lock:
            self.pending.pop(rel, None)
            self.first.pop(rel, None)
            self.checked.discard(rel)
        self.growing.pop(rel, None)

    def handle(self, inotify: Inotify, events: list[tuple[int, str, str, int]]) -> None:
        now = time.monotonic()
        ready: list[str] = []
        gone: list[str] = []
        moved_from: dict[int, tuple[str, bool]] = {}
        dirs_from: dict[int, tuple[str, list[int]]] = {}

        def flush() -> None:
            if ready:
                self.emit(ready)
                ready.clear()
            if gone:
                self.out.send({"op": "removed", "watch": self.wid, "paths": list(gone)})
                gone.clear()

        for mask, rel, kind, cookie in events:
            if kind == "d":
                if mask & IN_MOVED_FROM:
                    dirs_from[cookie] = (rel, inotify.under(rel))
                elif mask & IN_MOVED_TO and cookie in dirs_from:
                    flush()
                    self.moved_dir(inotify, dirs_from.pop(cookie)[0], rel)
                elif mask & (IN_CREATE | IN_MOVED_TO):
                    ready.append(rel)
                    ready.extend(inotify.add_tree(rel))
                continue
            if mask & IN_MOVED_FROM:
                with self.lock:
                    unsettled = rel in self.pending
                self.forget(rel)
                moved_from[cookie] = (rel, unsettled)
            elif mask & IN_MOVED_TO and cookie in moved_from:
                self.forget(rel)
                flush()
                src, unsettled = moved_from.pop(cookie)
                # Renamed while still being written: it is reported under its new name once
                # it settles; for now only the old name goes.
                entries, body = ([], b"") if unsettled else self.entries([rel])
                if unsettled:
                    self.written(rel, now)
                self.out.send(
                    {"op": "moved", "watch": self.wid, "src": src, "dst": rel, "entries": entries},
                    body,
                )
            elif mask & IN_DELETE:
                self.forget(rel)
                if ready:
                    flush()
                gone.append(rel)
            elif mask & (IN_CLOSE_WRITE | IN_MOVED_TO):
                self.forget(rel)
                if gone:
                    flush()
                ready.append(rel)
            elif mask & IN_CREATE:
                # A symlink or a file someone is about to write: report links now.
                if os.path.islink(os.path.join(self.root, rel)):
                    ready.append(rel)
                else:
                    self.written(rel, now)
            elif mask & (IN_MODIFY | IN_ATTRIB):
                self.written(rel, now)
        if ready:
            flush()
        # Moved out of the root (no matching arrival): for this side, removed.
        gone.extend(src for src, _ in moved_from.values())
        for src, wds in dirs_from.values():
            inotify.drop(wds)
            self.rename_pending(src, None)
            gone.append(src)
        flush()

    def moved_dir(self, inotify: Inotify, src: str, dst: str) -> None:
        """A directory renamed within the root, reported in frames of its files (no content:
        the local side renames the copies it has and fetches the rest); the last one says so,
        and then the local side tidies away what is left under the old name."""
        found = inotify.moved(src, dst)
        self.rename_pending(src, dst)
        with self.lock:
            settled = [rel for rel in found if rel not in self.pending]
        pages = list(self.pages([dst, *settled], inline=False)) or [([], b"")]
        for index, (entries, _body) in enumerate(pages):
            self.out.send(
                {
                    "op": "moved",
                    "watch": self.wid,
                    "kind": "d",
                    "src": src,
                    "dst": dst,
                    "entries": entries,
                    "last": index == len(pages) - 1,
                }
            )

    def rename_pending(self, src: str, dst: str | None) -> None:
        """Files still being written below a renamed directory keep waiting under their new
        names (``dst`` None: moved out of the root, forgotten)."""
        prefix = src + "/"

        def new_name(rel: str) -> str | None:
            if not rel.startswith(prefix):
                return rel
            return None if dst is None else dst + rel[len(src) :]

        def renamed(table: dict[str, Any]) -> None:
            for rel in [rel for rel in table if rel.startswith(prefix)]:
                value = table.pop(rel)
                name = new_name(rel)
                if name is not None:
                    table[name] = value

        with self.lock:
            renamed(self.pending)
            renamed(self.first)
            self.checked = {name for name in map(new_name, self.checked) if name is not None}
        renamed(self.growing)

    def tick(self) -> None:
        """Report what settled, and the growth of files being appended to."""
        now = time.monotonic()
        with self.lock:
            settled = [rel for rel, at in self.pending.items() if now - at >= self.settle]
            for rel in settled:
                del self.pending[rel]
                self.first.pop(rel, None)
                self.checked.discard(rel)
            unchecked = [
                rel
                for rel, at in self.first.items()
                if rel not in self.checked and now - at >= GROW_AFTER
            ]
            self.checked.update(unchecked)
            pending = set(self.pending)
        for rel in settled:
            self.growing.pop(rel, None)
        if unchecked:
            real = os.path.realpath(self.root)
            for rel in appending({os.path.join(real, rel): rel for rel in unchecked}):
                self.growing[rel] = (-1, 0.0)
        grown: list[str] = []
        for rel, (reported, at) in list(self.growing.items()):
            if rel not in pending or now - at < GROW_TICK:
                continue
            try:
                size = os.lstat(os.path.join(self.root, rel)).st_size
            except OSError:
                continue
            if size != reported:
                self.growing[rel] = (size, now)
                grown.append(rel)
        self.emit(settled)
        self.emit(grown, grow=True)

    def overflowed(self, inotify: Inotify) -> None:
        """Events were lost: watch everything again and have the local side rescan. A file
        written recently may still be in progress: it waits out its settle time first (the
        rescan leaves it alone)."""
        inotify.dirs.clear()
        found = inotify.add_tree("")
        now, wall = time.monotonic(), time.time_ns()
        for rel in found:
            try:
                st = os.lstat(os.path.join(self.root, rel))
            except OSError:
                continue
            if wall - st.st_mtime_ns < self.settle * 1e9:
                self.written(rel, now)
        self.out.send({"op": "rescan", "watch": self.wid})

    def run_poll(self) -> None:
        reported = self.snapshot
        previous = reported
        while True:
            time.sleep(self.interval)
            current = self.poll_snapshot()
            settled = [
                rel
                for rel, meta in current.items()
                if previous.get(rel) == meta and reported.get(rel) != meta
            ]
            for rel in settled:
                reported[rel] = current[rel]
            for rel in list(reported):
                if rel not in current:
                    del reported[rel]
            previous = current
            if settled:
                self.emit(settled)


def read_settled(path: str, before: os.stat_result) -> bytes | None:
    """The file's bytes if it did not change while being read, else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read()
        after = os.fstat(handle.fileno())
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        return None
    if len(data) != after.st_size:
        return None
    return data


class Agent:
    def __init__(self, stdin: BinaryIO, out: Output) -> None:
        self.stdin = stdin
        self.out = out
        self.writer = Writer()
        self.watchers: list[Watcher] = []
        self.handlers: dict[str, Callable[[dict[str, Any], memoryview], None]] = {
            "hello": self.op_hello,
            "manifest": self.op_manifest,
            "digests": self.op_digests,
            "hash": self.op_hash,
            "put": self.op_put,
            "begin": self.op_begin,
            "chunk": self.op_chunk,
            "end": self.op_end,
            "abort": self.op_abort,
            "mkdir": self.op_mkdir,
            "delete": self.op_delete,
            "move": self.op_move,
            "touch": self.op_touch,
            "link": self.op_link,
            "read": self.op_read,
            "watch": self.op_watch,
        }

    def shutdown(self) -> None:
        self.writer.cleanup()
        os._exit(0)

    def read_exact(self, size: int) -> bytes | None:
        data = self.stdin.read(size)
        if data is None or len(data) < size:
            return None
        return data

    def receive(self, frames: queue.Queue[tuple[bytes, bytes] | None]) -> None:
        """Read frames ahead while the main thread writes files, so the link never idles."""
        try:
            while True:
                head = self.read_exact(FRAME_HEADER.size)
                if head is None:
                    return
                head_len, body_len = FRAME_HEADER.unpack(head)
                if head_len > MAX_HEADER or body_len > MAX_BODY:
                    return
                raw = self.read_exact(head_len)
                body = self.read_exact(body_len) if body_len else b""
                if raw is None or body is None:
                    return
                frames.put((raw, body))
        except OSError:
            return
        finally:
            frames.put(None)

    def serve(self) -> None:
        frames: queue.Queue[tuple[bytes, bytes] | None] = queue.Queue(maxsize=READ_AHEAD)
        threading.Thread(target=self.receive, args=(frames,), daemon=True).start()
        while True:
            item = frames.get()
            if item is None:
                return
            raw, body = item
            header = json.loads(raw)
            op = header.get("op")
            handler = self.handlers.get(op) if isinstance(op, str) else None
            seq = header.get("seq")
            try:
                if handler is None:
                    raise ProtocolError(f"unknown op {op!r}")
                handler(header, memoryview(body))
            except (OSError, ProtocolError, KeyError, ValueError, TypeError) as exc:
                if "fid" in header and op in ("begin", "chunk", "end"):
                    self.writer.abort(header["fid"])
                if seq is not None:
                    self.out.send({"op": "error", "seq": seq, "message": describe(exc)})

    def ok(self, header: dict[str, Any], **extra: Any) -> None:
        if header.get("seq") is not None:
            self.out.send({"op": "ok", "seq": header["seq"], **extra})

    def op_hello(self, header: dict[str, Any], _body: memoryview) -> None:
        if header.get("version") != PROTOCOL_VERSION:
            self.out.send(
                {
                    "op": "error",
                    "seq": header.get("seq"),
                    "message": f"agent speaks protocol {PROTOCOL_VERSION}, "
                    f"client speaks {header.get('version')}",
                    "version": PROTOCOL_VERSION,
                }
            )
            raise SystemExit(3)
        self.ok(header, version=PROTOCOL_VERSION, pid=os.getpid())

    def op_manifest(self, header: dict[str, Any], _body: memoryview) -> None:
        """The tree's entries; with ``versions``, also their version stamps and the files a
        watcher of that root sees still being written (``hot``: a pass leaves those to it).
        With ``dirs``, only the entries directly in those directories."""
        root = header["root"]
        versions = bool(header.get("versions"))
        prune, prune_names = set(header.get("prune", ())), set(header.get("prune_names", ()))
        only = header.get("dirs")
        exists = os.path.isdir(root)
        if not exists:
            tree: Iterator[Entry] = iter(())
        elif only is None:
            tree = scan_tree(root, prune, prune_names, versions)
        else:
            listable = [rel for rel in only if self.listable(root, rel)]
            tree = list_dirs(root, listable, prune, prune_names)
        hot = [rel for w in self.watchers if w.root == root for rel in w.hot()] if versions else []
        page = header.get("page")
        with gc_paused():
            if isinstance(page, int) and page > 0:
                # In pages ahead of the answer, so the client never holds the whole listing.
                entries: list[Entry] = []
                for entry in tree:
                    entries.append(entry)
                    if len(entries) >= page:
                        self.out.send({"op": "data", "seq": header["seq"], "entries": entries})
                        entries = []
                if entries:
                    self.out.send({"op": "data", "seq": header["seq"], "entries": entries})
                self.ok(header, entries=[], exists=exists, hot=hot)
                return
            self.ok(header, entries=list(tree), exists=exists, hot=hot)

    @staticmethod
    def listable(root: str, rel: str) -> bool:
        """A directory of the tree itself (not a symlink, not reached through one)."""
        if rel == "":
            return True
        try:
            return stat.S_ISDIR(os.lstat(inside(root, rel)).st_mode)
        except (OSError, ProtocolError):
            return False

    def op_digests(self, header: dict[str, Any], _body: memoryview) -> None:
        """A digest per directory (``tree_digests``): the local side lists only the
        directories whose digest differs from the one it expects."""
        root = header["root"]
        prune, prune_names = set(header.get("prune", ())), set(header.get("prune_names", ()))
        if not os.path.isdir(root):
            self.ok(header, digests={}, exists=False)
            return
        with gc_paused():
            digests = tree_digests(root, prune, prune_names)
        self.ok(header, digests=digests, exists=True)

    def op_hash(self, header: dict[str, Any], _body: memoryview) -> None:
        root = header["root"]
        # ``sizes``: hash only that many leading bytes (what pull placed of a growing file).
        sizes = header.get("sizes") or {}
        hashes = {rel: file_hash(inside(root, rel), sizes.get(rel)) for rel in header["paths"]}
        self.ok(header, hashes=hashes)

    def op_put(self, header: dict[str, Any], body: memoryview) -> None:
        root = header["root"]
        offset = 0
        errors: list[list[str]] = []
        verified: dict[str, str] = {}
        for rel, size, mtime_ns, mode in header["files"]:
            data = body[offset : offset + size]
            offset += size
            try:
                self.writer.write(inside(root, rel, verified), data, mtime_ns, mode)
            except (OSError, ProtocolError) as exc:
                errors.append([rel, describe(exc)])
        self.ok(header, errors=errors)

    def op_begin(self, header: dict[str, Any], _body: memoryview) -> None:
        self.writer.begin(
            header["fid"],
            inside(header["root"], header["path"]),
            header["mtime_ns"],
            header["mode"],
        )

    def op_chunk(self, header: dict[str, Any], body: memoryview) -> None:
        if header["fid"] in self.writer.streams:
            self.writer.chunk(header["fid"], body)

    def op_end(self, header: dict[str, Any], _body: memoryview) -> None:
        if header["fid"] not in self.writer.streams:
            raise ProtocolError("write was aborted")
        self.writer.end(header["fid"])
        self.ok(header)

    def op_abort(self, header: dict[str, Any], _body: memoryview) -> None:
        self.writer.abort(header["fid"])

    def op_mkdir(self, header: dict[str, Any], _body: memoryview) -> None:
        root = header["root"]
        errors: list[list[str]] = []
        verified: dict[str, str] = {}
        umask = self.writer.umask
        for rel, mode in header["dirs"]:
            try:
                full = inside(root, rel, verified)
                # Parents come first (a first sync sends thousands): one mkdir each, and a
                # chmod only for bits the umask took or an existing directory's mode.
                try:
                    os.mkdir(full, mode & 0o777)  # noqa: PTH102 (str paths throughout)
                except FileNotFoundError:
                    os.makedirs(full, exist_ok=True)
                    os.chmod(full, mode & 0o7777)
                except FileExistsError:
                    if not stat.S_ISDIR(os.lstat(full).st_mode):
                        raise
                    os.chmod(full, mode & 0o7777)
                else:
                    if mode & 0o7777 != mode & 0o777 & ~umask:
                        os.chmod(full, mode & 0o7777)
            except (OSError, ProtocolError) as exc:
                errors.append([rel, describe(exc)])
        self.ok(header, errors=errors)

    def op_delete(self, header: dict[str, Any], _body: memoryview) -> None:
        root = header["root"]
        errors: list[list[str]] = []
        # Deepest first, so a directory is empty by the time its turn comes.
        for rel, kind in sorted(header["paths"], key=lambda p: -p[0].count("/")):
            try:
                full = inside(root, rel)
                if kind in ("d", "e"):
                    os.rmdir(full)
                else:
                    os.unlink(full)
            except FileNotFoundError:
                continue
            except OSError as exc:
                # "e": a directory that only held our files; anything else in it keeps it.
                if kind == "e" and exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    continue
                errors.append([rel, describe(exc)])
            except ProtocolError as exc:
                errors.append([rel, describe(exc)])
        self.ok(header, errors=errors)

    def op_move(self, header: dict[str, Any], _body: memoryview) -> None:
        root = header["root"]
        src, dst = inside(root, header["src"]), inside(root, header["dst"])
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.rename(src, dst)
        self.ok(header)

    def op_link(self, header: dict[str, Any], _body: memoryview) -> None:
        """Symlinks made beside their final name and renamed over it, with the local mtime."""
        root = header["root"]
        errors: list[list[str]] = []
        for rel, target, mtime_ns in header["links"]:
            try:
                full = inside(root, rel)
                directory, name = os.path.split(full)
                os.makedirs(directory, exist_ok=True)
                self.writer.counter += 1
                temp = temp_name(directory, name, self.writer.counter)
                os.symlink(str(target), temp)  # noqa: PTH211 (str paths throughout)
                try:
                    os.utime(temp, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
                    os.rename(temp, full)
                except OSError:
                    os.unlink(temp)
                    raise
            except (OSError, ProtocolError) as exc:
                errors.append([rel, describe(exc)])
        self.ok(header, errors=errors)

    def op_touch(self, header: dict[str, Any], _body: memoryview) -> None:
        root = header["root"]
        errors: list[list[str]] = []
        for rel, mtime_ns, mode in header["files"]:
            try:
                full = inside(root, rel)
                os.chmod(full, mode & 0o7777, follow_symlinks=False)
                os.utime(full, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
            except (OSError, ProtocolError) as exc:
                errors.append([rel, describe(exc)])
        self.ok(header, errors=errors)

    def op_read(self, header: dict[str, Any], _body: memoryview) -> None:
        """Files as ``data`` frames. ``sizes`` maps a path to the size it was listed with: a file
        of another size by now is not sent (one "changed" frame: its event brings it). ``tails``
        maps a path to ``[offset, size]``: only those bytes of a file being appended to are
        sent (it may have grown since; it is "changed" only if it got shorter). Vanished files
        are listed apart from errors."""
        root, seq = header["root"], header["seq"]
        tails = header.get("tails") or {}
        sizes = header.get("sizes") or {}
        errors: list[list[str]] = []
        missing: list[str] = []
        for rel in header["paths"]:
            try:
                self.send_file(seq, root, rel, tails.get(rel), sizes.get(rel))
            except FileNotFoundError:
                missing.append(rel)
            except (OSError, ProtocolError, TypeError, ValueError) as exc:
                errors.append([rel, describe(exc)])
        self.ok(header, errors=errors, missing=missing)

    def send_file(
        self,
        seq: int,
        root: str,
        rel: str,
        tail: list[int] | None = None,
        listed: int | None = None,
    ) -> None:
        fd = os.open(inside(root, rel), os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb", buffering=0) as handle:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):
                raise ProtocolError(f"{rel} is not a regular file")
            start, end = (0, before.st_size) if tail is None else (int(tail[0]), int(tail[1]))
            meta = {
                "op": "data",
                "seq": seq,
                "path": rel,
                "size": before.st_size if tail is None else end,
                "mtime_ns": before.st_mtime_ns,
                "mode": stat.S_IMODE(before.st_mode),
                "ctime_ns": before.st_ctime_ns,
            }
            if tail is None and listed is not None and before.st_size != listed:
                self.out.send({**meta, "offset": 0, "last": True, "changed": True})
                return
            if tail is not None:
                handle.seek(start)
            digest = hashlib.sha256()
            offset = start
            while True:
                chunk = handle.read(min(READ_CHUNK, max(end - offset, 0)))
                after = os.fstat(fd)
                if tail is None:
                    changed = (after.st_size, after.st_mtime_ns) != (
                        before.st_size,
                        before.st_mtime_ns,
                    )
                else:
                    changed = after.st_size < end
                digest.update(chunk)
                last = not chunk or offset + len(chunk) >= end or changed
                extra = {"sha256": digest.hexdigest()} if last else {}
                self.out.send(
                    {**meta, "offset": offset, "last": last, "changed": changed, **extra}, chunk
                )
                offset += len(chunk)
                if last:
                    return

    def op_watch(self, header: dict[str, Any], _body: memoryview) -> None:
        root = header["root"]
        os.makedirs(root, exist_ok=True)
        watcher = Watcher(
            self.out,
            header["watch"],
            root,
            float(header.get("settle", 1.0)),
            float(header.get("interval", 0.5)),
            str(header.get("mode", "auto")),
            self.shutdown,
        )
        self.watchers.append(watcher)
        watcher.prepare()
        watcher.start()
        self.ok(header, mode=watcher.mode)


def describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def main() -> None:
    stdin = sys.stdin.buffer
    out = Output(sys.stdout.fileno())
    agent = Agent(stdin, out)

    def on_signal(signum: int, _frame: object) -> None:
        agent.writer.cleanup()
        os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, on_signal)
    try:
        agent.serve()
    except (BrokenPipeError, ProtocolError, SystemExit):
        pass
    finally:
        agent.writer.cleanup()
    # Watcher threads may be blocked in select; they must not keep the process alive.
    os._exit(0)


if __name__ == "__main__":
    main()
