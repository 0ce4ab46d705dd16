"""Copy files and directories to and from the runtime as one tar stream over an exec channel.

One stream beats paramiko's SFTP: measured 1.4–2× on large files and 3× on many small ones (no
per-file round trips, no SFTP request framing, no small reads from paramiko's buffer). The copy
lands in a temporary sibling first and is renamed into place, so a reader of the destination sees
the old version or the new one, never half of one. A cancel (an event, or Ctrl+C in the caller)
stops a transfer on both sides and leaves the destination as it was; an upload is renamed only
after the commit line that follows its archive, so one that was cut off never lands later. A
cancel that comes after the commit line reports the landing (or, unanswered, that it may have
landed), the same rule with and without the daemon.

Destination rules (as ``cp -r``): a destination that is an existing directory, or that ends in
``/``, receives the source under its own name; otherwise the destination is the copy's name and
an existing file or directory there is replaced.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import shlex
import shutil
import stat
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko

from colablink.errors import Cancelled, RemoteError, UsageError
from colablink.shown import shown
from colablink.ssh.landing import CutShort, LocalWriteError, land, merge
from colablink.ssh.session import (
    BULK_WINDOW,
    ConnectionLost,
    Session,
    close_channel,
    send_all,
    send_signal,
    shutdown_write,
)

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
# tarfile's stream buffer re-slices on every small read; keep it modest (see ssh-performance).
_TAR_BUFSIZE = 64 * 1024
# Name of the single top-level entry inside the stream; the real name is decided at the target.
_ENTRY = "x"
# Sent after the archive: only then does the runtime rename the copy into place.
_COMMIT = b"commit\n"
# How long a cancelled upload waits for the runtime to say it removed its temp.
_ABORT_GRACE_S = 1.0
# How often a cancellable download looks at its cancel while no data arrives.
_CANCEL_POLL_S = 0.05


@dataclass(frozen=True)
class TransferProgress:
    bytes_done: int
    bytes_total: int
    files_done: int
    files_total: int


ProgressCallback = Callable[[TransferProgress], object]


def resolve_remote(path: str, root: str | None) -> str:
    """A remote path as given if absolute, else under ``root`` (kept: a trailing ``/``)."""
    if not path:
        raise UsageError("Give a remote path.")
    if posixpath.isabs(path) or root is None:
        return path
    joined = posixpath.join(root, path)
    return joined if not path.endswith("/") or joined.endswith("/") else joined + "/"


class _ChannelWriter:
    """A write-only file over a channel: batches tarfile's small writes into large sends."""

    def __init__(
        self,
        chan: paramiko.Channel,
        on_bytes: Callable[[int], None],
        cancel: threading.Event | None,
    ) -> None:
        self._chan = chan
        self._buf = bytearray()
        self._on_bytes = on_bytes
        self._offset = 0
        self._cancel = cancel

    def write(self, data: bytes) -> int:
        self._buf += data
        self._offset += len(data)
        if len(self._buf) >= _CHUNK:
            self.flush()
        return len(data)

    def tell(self) -> int:
        return self._offset

    def flush(self) -> None:
        if self._cancel is not None and self._cancel.is_set():
            # send_all looks at the cancel only while the window is shut.
            raise Cancelled("The transfer was cancelled.")
        if self._buf:
            send_all(self._chan, self._buf, self._cancel)
            self._on_bytes(len(self._buf))
            self._buf.clear()


class _ChannelReader:
    """A read-only file over a channel's stdout: takes large chunks, hands out what is asked."""

    def __init__(
        self,
        chan: paramiko.Channel,
        on_bytes: Callable[[int], None],
        cancel: threading.Event | None,
    ) -> None:
        self._chan = chan
        self._chunk = memoryview(b"")
        self._on_bytes = on_bytes
        self._cancel = cancel
        if cancel is not None:
            # Wake up now and then to look at the cancel; nothing else would end a blocked recv.
            chan.settimeout(_CANCEL_POLL_S)

    def _recv(self) -> bytes:
        while True:
            if self._cancel is not None and self._cancel.is_set():
                raise Cancelled("The transfer was cancelled.")
            try:
                # Drain paramiko's buffer whole: a partial read copies the rest every time.
                return self._chan.recv(BULK_WINDOW)
            except TimeoutError:
                continue

    def read(self, size: int = -1) -> bytes:
        if not self._chunk:
            data = self._recv()
            if not data:
                return b""
            self._on_bytes(len(data))
            self._chunk = memoryview(data)
        take = len(self._chunk) if size < 0 else min(size, len(self._chunk))
        out = bytes(self._chunk[:take])
        self._chunk = self._chunk[take:]
        return out

    def readline(self) -> bytes:
        line = bytearray()
        while not line.endswith(b"\n"):
            byte = self.read(1)
            if not byte:
                break
            line += byte
        return bytes(line)


def _walk(root: Path) -> Iterator[Path]:
    yield root
    if root.is_dir() and not root.is_symlink():
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            base = Path(dirpath)
            for name in [*dirnames, *sorted(filenames)]:
                yield base / name


def _local_totals(paths: list[Path]) -> tuple[int, int]:
    size = files = 0
    for path in paths:
        st = path.lstat()
        if stat.S_ISREG(st.st_mode):
            size += st.st_size
            files += 1
    return size, files


def _finish(chan: paramiko.Channel, what: str) -> None:
    code = chan.recv_exit_status()
    if code == -1:  # paramiko's value when the channel died without an exit status
        raise ConnectionLost(f"The connection dropped before the runtime could {what}.")
    err = b""
    while chan.recv_stderr_ready():
        err += chan.recv_stderr(_CHUNK)
    if code != 0:
        detail = err.decode(errors="replace").strip().splitlines()
        reason = detail[-1] if detail else f"exit status {code}"
        raise RemoteError(f"The runtime could not {what} ({reason}).")


def _remote_place_script(dest: str, name: str) -> str:
    """Shell that extracts the incoming tar next to its target, then renames it into place.

    The rename waits for the commit line that follows the archive: a stream that merely ends (a
    cancel, a dropped connection, a client that died) leaves nothing behind, however much of it
    arrived, so a cancelled upload can never land later. tar reads whole 10 KiB records, and the
    archive is padded to one, so the line stays in the pipe for ``read``.
    """
    return "\n".join(
        [
            "set -e",
            f"d={shlex.quote(dest)}; n={shlex.quote(name)}; tmp=",
            'case "$d" in */) mkdir -p -- "$d"; t="$d$n";; '
            '*) if [ -d "$d" ]; then t="$d/$n"; else t="$d"; fi;; esac',
            'p=$(dirname -- "$t"); mkdir -p -- "$p"',
            'trap \'[ -z "$tmp" ] || rm -rf -- "$tmp"\' EXIT',
            # A cancel (TERM to the process group) or a hang-up exits through the trap above.
            "trap 'exit 1' HUP INT TERM PIPE",
            'tmp=$(mktemp -d "$p/.colablink-up.XXXXXX")',
            'tar -x --no-same-owner -C "$tmp" -f -',
            "IFS= read -r ok || ok=",
            f'[ "$ok" = {_COMMIT.decode().strip()} ] || exit 1',
            # A directory cannot be renamed over an existing entry: move the old one aside first.
            f'if [ -d "$tmp/{_ENTRY}" ] || [ -d "$t" ]; then '
            'if [ -e "$t" ] || [ -L "$t" ]; then mv -T -- "$t" "$tmp/old"; fi; fi',
            f'mv -T -- "$tmp/{_ENTRY}" "$t"',
        ]
    )


def _abort_upload(chan: paramiko.Channel) -> None:
    """End a remote extraction that will get no commit: its process group, then its temp.

    TERM reaches the whole group (sshd signals it): tar dies, the shell's trap removes the temp.
    The exit status says the temp is gone; a link too slow to say so within the grace is left
    to the trap, which runs anyway once the stream ends.
    """
    with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
        send_signal(chan, "TERM")
        shutdown_write(chan)
        chan.status_event.wait(_ABORT_GRACE_S)


def _await_landing(chan: paramiko.Channel, dest: str, cancel: threading.Event | None) -> None:
    """Wait for the runtime's word on a committed upload, which lands whatever happens now.

    A cancel (or Ctrl+C) this late cannot undo it, so it only bounds the wait: the answer that
    arrives within the grace is reported as it is (landed, or the runtime's error), and past it
    the caller is told the copy may have landed, never that nothing was kept.
    """
    unsure = RemoteError(f"Stopped waiting for the runtime, which had the whole copy; {dest} "
                         "may already hold it.")  # fmt: skip
    try:
        while cancel is not None and not chan.status_event.wait(_CANCEL_POLL_S):
            if cancel.is_set():
                if not chan.status_event.wait(_ABORT_GRACE_S):
                    raise unsure
                break
        _finish(chan, f"write {dest}")
    except KeyboardInterrupt:
        raise unsure from None


def upload(
    session: Session,
    local: Path | str,
    remote: str,
    progress: ProgressCallback | None = None,
    *,
    root: str | None = None,
    cancel: threading.Event | None = None,
) -> None:
    """Copy a local file or directory tree to ``remote`` (relative paths resolve against root).

    Setting ``cancel`` (or an exception here, such as Ctrl+C) stops the copy: the remote side
    removes what it received and the destination is left as it was; ``Cancelled`` is raised.
    """
    source = Path(local)
    if not source.exists() and not source.is_symlink():
        raise UsageError(f"{source} does not exist.")
    dest = resolve_remote(remote, root)
    members = list(_walk(source))
    bytes_total, files_total = _local_totals(members)
    done = {"bytes": 0, "files": 0}

    def report() -> None:
        if progress is not None:
            progress(
                TransferProgress(
                    min(done["bytes"], bytes_total), bytes_total, done["files"], files_total
                )
            )

    def on_sent(n: int) -> None:
        done["bytes"] += n
        report()

    chan = session.open_exec(_remote_place_script(dest, source.name))
    committed = False
    try:
        writer = _ChannelWriter(chan, on_sent, cancel)
        with tarfile.open(fileobj=writer, mode="w", format=tarfile.GNU_FORMAT) as tar:  # type: ignore[call-overload]
            tar.copybufsize = _CHUNK
            for path in members:
                arcname = posixpath.join(_ENTRY, *path.relative_to(source).parts)
                info = tar.gettarinfo(str(path), arcname=arcname)
                if info.isreg():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                    done["files"] += 1
                else:
                    tar.addfile(info)
        writer.flush()
        if cancel is not None and cancel.is_set():
            raise Cancelled("The transfer was cancelled.")
        # From here the copy lands: a cancel now is too late to undo it, so it is not sent.
        send_all(chan, _COMMIT)
        committed = True
        shutdown_write(chan)
        _await_landing(chan, dest, cancel)
        report()
    except (OSError, EOFError, paramiko.SSHException) as exc:
        if isinstance(exc, OSError) and exc.filename:
            raise UsageError(f"Cannot read {exc.filename} ({exc.strerror}).") from None
        raise ConnectionLost(f"The connection dropped while uploading to {dest}.") from None
    finally:
        if not committed:
            _abort_upload(chan)
        close_channel(chan)


def _remote_pack_script(src: str) -> str:
    """Shell that prints "<bytes> <files>" then a tar of ``src`` with a single top-level entry."""
    return "\n".join(
        [
            "set -e",
            f"s={shlex.quote(src.rstrip('/') or '/')}",
            '[ -e "$s" ] || [ -L "$s" ] || { echo "No such file or directory: $s" >&2; exit 2; }',
            # printf, not print: mawk prints sums past 2^31 as 4.29497e+09.
            "find \"$s\" -type f -printf '%s\\n' "
            "| awk '{b+=$1; n++} END {printf \"%.0f %.0f\\n\", b, n}'",
            'cd -- "$(dirname -- "$s")"',
            'tar -c --format=gnu -f - -- "$(basename -- "$s")"',
        ]
    )


def _local_place(tmp: Path, target: Path) -> None:
    new = tmp / _ENTRY
    if (new.is_dir() or target.is_dir()) and (target.exists() or target.is_symlink()):
        target.rename(tmp / "old")
    new.replace(target)


def download(
    session: Session,
    remote: str,
    local: Path | str,
    progress: ProgressCallback | None = None,
    *,
    root: str | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Copy a remote file or tree to ``local``; return the path the copy landed at.

    Setting ``cancel`` (or an exception here, such as Ctrl+C) stops the copy: the remote tar is
    killed, the local temp removed, ``local`` left as it was; ``Cancelled`` is raised.
    """
    src = resolve_remote(remote, root)
    name = posixpath.basename(src.rstrip("/")) or "root"
    dest = Path(local)
    # ``cp -r dir/. dest``: the contents of dir, merged into dest when it is a directory.
    contents = name == "."
    ends_with_sep = str(local).endswith(("/", os.sep))
    target = dest if contents else dest / name if ends_with_sep or dest.is_dir() else dest
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".colablink-down.", dir=target.parent))
    except OSError as exc:
        raise UsageError(f"Cannot write under {target.parent} ({exc.strerror or exc}).") from None
    try:
        chan = session.open_exec(_remote_pack_script(src), window_size=BULK_WINDOW)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutdown_write(chan)
    finished = False
    try:
        done = {"bytes": 0, "files": 0}
        totals = [0, 0]

        def on_received(n: int) -> None:
            done["bytes"] += n
            if progress is not None:
                progress(
                    TransferProgress(
                        min(done["bytes"], totals[0]), totals[0], done["files"], totals[1]
                    )
                )

        reader = _ChannelReader(chan, on_received, cancel)
        header = reader.readline().split()
        if len(header) != 2:
            _finish(chan, f"read {src}")
            raise RemoteError(f"The runtime sent no listing for {src}.")
        try:
            totals[0], totals[1] = int(header[0]), int(header[1])
        except ValueError:
            raise RemoteError(f"The runtime sent a malformed listing for {src}.") from None
        done["bytes"] = 0
        _land(reader, tmp, done)
        _await_exit(chan, cancel)
        _finish(chan, f"read {src}")
        finished = True
        if cancel is not None and cancel.is_set():
            raise Cancelled("The transfer was cancelled.")  # answered as one: it must not land
        if contents and target.is_dir() and not target.is_symlink():
            _merge(tmp, target)
        else:
            _local_place(tmp, target)
        if progress is not None:
            progress(TransferProgress(totals[0], totals[0], totals[1], totals[1]))
        return target
    except CutShort:
        _finish(chan, f"read {src}")  # a dropped connection says so; an exit 0 keeps CutShort
        raise
    except (EOFError, paramiko.SSHException) as exc:
        raise ConnectionLost(f"The connection dropped while downloading {src} ({exc}).") from None
    except LocalWriteError as exc:
        raise UsageError(f"Cannot write under {target.parent} ({exc}).") from None
    except OSError as exc:
        raise UsageError(f"Cannot write under {target.parent} ({exc.strerror or exc}).") from None
    finally:
        if not finished:
            # Closing the channel alone would leave the remote find or tar running.
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                send_signal(chan, "KILL")
        close_channel(chan)
        shutil.rmtree(tmp, ignore_errors=True)


def _await_exit(chan: paramiko.Channel, cancel: threading.Event | None) -> None:
    """Wait for the remote end's exit status, which a runtime may hold back, as long as no cancel.

    A cancel while waiting ends the download before anything is placed, so a copy that was
    answered as cancelled (the helper answers within its grace) can never land afterwards.
    """
    while cancel is not None and not chan.status_event.wait(_CANCEL_POLL_S):
        if cancel.is_set():
            raise Cancelled("The transfer was cancelled.")


def _land(reader: _ChannelReader, into: Path, done: dict[str, int]) -> None:
    def on_file() -> None:
        done["files"] += 1

    def report(path: str, reason: str) -> None:
        # Names come from the runtime: no control character reaches a terminal raw.
        name = shown(path.removeprefix(_ENTRY + "/"))
        log.warning("Skipped %s: %s", name, shown(reason.removeprefix("skipped: ")))

    root_fd = os.open(into, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        land(reader.read, root_fd, _ENTRY, report, on_file)
    finally:
        os.close(root_fd)


def _merge(tmp: Path, target: Path) -> None:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    src_fd = os.open(tmp / _ENTRY, flags)
    try:
        dst_fd = os.open(target, flags)
        try:
            merge(src_fd, dst_fd, lambda path, why: log.warning("Skipped %s: %s", shown(path), why))
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)
