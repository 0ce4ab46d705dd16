"""Outputs back: the remote connection directory into the local one.

Nothing from the runtime is trusted. Every path is checked (``pathsafety``), symlinks are
reported and never followed, writes are atomic and never leave the local connection directory,
no file grows past the size the runtime announced for it, and a local file that pull did not
place (or that was edited since) is never overwritten.

Outputs are never torn and never go backwards. A file is pulled once the runtime's watcher
reports it settled (closed, or quiet for the settle time); a full pass leaves the files it
still sees being written to it. Each copy is checked against its size and SHA-256, and one
still changing while it was read is dropped until its next event. Every remote version carries
its ctime (which, unlike mtime, only moves forward): an event older than the copy pull placed
is dropped. A file being appended to (a training log) comes back as it grows, tail only, after
checking that the bytes before the tail are still those pull placed; once it settles its whole
content is compared by hash, and a file that was rewritten rather than appended to is pulled
whole. A rename on the runtime of a file pull placed is a local rename, and the old name of a
file renamed away is not left behind.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from collections.abc import Callable, Collection
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colablink_runtime.sync_agent import file_hash, stale_temp, temp_name

from colablink.errors import RemoteError
from colablink.pathsafety import UnsafePath, check_remote_relpath, created_mode, local_destination
from colablink.sync.agent_client import Header, SyncAgentClient
from colablink.sync.progress import NoProgress, Progress
from colablink.sync.reconcile import decide_pull, plan_pull
from colablink.sync.records import Records
from colablink.sync.scan import Meta, local_meta, scan_local
from colablink.sync.spec import SyncSpec

REPLY_TIMEOUT = 600.0
# Growth up to this size is fetched into memory and appended in place; beyond it the file comes
# whole, into a temp file renamed over the old copy.
TAIL_LIMIT = 8 * 1024 * 1024
# Bytes before a tail fetched again and compared with the end of the local copy.
OVERLAP = 4096
# The runtime lists its outputs in pages of this many entries; past MAX_LISTED, none are kept.
LISTING_PAGE = 5000
MAX_LISTED = 2_000_000
Report = Callable[[str, str], None]


@dataclass
class PullSummary:
    received: list[str] = field(default_factory=list)
    mkdirs: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    nbytes: int = 0

    def add(self, other: PullSummary) -> None:
        self.received += other.received
        self.mkdirs += other.mkdirs
        self.refused += other.refused
        self.nbytes += other.nbytes


@dataclass(frozen=True)
class Wanted:
    """A file to fetch as the runtime announced it: never more than ``meta.size`` bytes."""

    meta: Meta
    version: int | None = None  # its ctime on the runtime
    growing: bool = False  # still appended to: its first ``meta.size`` bytes are a settled copy


class LocalWriter:
    """Atomic writes under the local connection directory; temp files never outlive a stop."""

    counter = itertools.count(1)

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.Lock()
        self.open: dict[str, tuple[int, Path, Path]] = {}
        self.closed = False

    def begin(self, rel: str, remote_mode: int) -> None:
        final = local_destination(self.root, rel, create_parents=True)
        # The agent's naming, so ``stale_temp`` recognises a dead process's leftovers here too.
        temp = Path(temp_name(str(final.parent), final.name, next(self.counter)))
        with self.lock:
            # After close (a stop, Ctrl+C) late chunks from the reader thread start nothing.
            if self.closed:
                raise UnsafePath(f"{rel!r}: the transfer was stopped")
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            fd = os.open(temp, flags, created_mode(remote_mode))
            self.open[rel] = (fd, temp, final)

    def write(self, rel: str, data: bytes) -> None:
        fd = self.open[rel][0]
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    def commit(self, rel: str, remote: Meta, may_replace: Callable[[Meta | None], bool]) -> Meta:
        """Rename into place unless a local file appeared meanwhile that pull must not touch."""
        with self.lock:
            fd, temp, final = self.open.pop(rel)
        try:
            os.utime(fd, ns=(remote.mtime_ns, remote.mtime_ns))
        finally:
            os.close(fd)
        if not may_replace(local_meta(final)):
            temp.unlink(missing_ok=True)
            raise UnsafePath(f"{rel!r}: a local file appeared that pull does not overwrite")
        temp.rename(final)
        meta = local_meta(final)
        assert meta is not None
        return meta

    def abort(self, rel: str) -> None:
        with self.lock:
            slot = self.open.pop(rel, None)
        if slot is not None:
            os.close(slot[0])
            slot[1].unlink(missing_ok=True)

    def close(self) -> None:
        with self.lock:
            self.closed = True
        for rel in list(self.open):
            self.abort(rel)


def remove_stale_temps(root: Path) -> None:
    """Temp files of a process that died mid-write (Ctrl+C is cleaned up without this)."""
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            if stale_temp(name):
                Path(dirpath, name).unlink(missing_ok=True)


def _int_at(entry: Any, index: int) -> int | None:
    if isinstance(entry, list) and len(entry) > index:
        value = entry[index]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _read_range(path: Path, start: int, end: int) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        return os.pread(fd, end - start, start)
    finally:
        os.close(fd)


class Puller:
    def __init__(
        self, client: SyncAgentClient, spec: SyncSpec, records: Records, report: Report
    ) -> None:
        self.client = client
        self.spec = spec
        self.root = spec.local_conn_dir.resolve()
        self.records = records
        self.report = report
        self.writer = LocalWriter(self.root)
        self.listing: dict[str, Meta] = {}
        self.versions: dict[str, int] = {}

    def _checked(self, entry: Any) -> tuple[str, Meta] | None:
        try:
            raw, meta = Meta.from_wire(entry)
            return check_remote_relpath(raw), meta
        except UnsafePath as exc:
            name = entry[0] if isinstance(entry, list) and entry else entry
            self.report(str(name), f"refused a path from the runtime ({str(exc).split(': ')[0]})")
        except (ValueError, TypeError, AttributeError):
            name = entry[0] if isinstance(entry, list) and entry else entry
            self.report(str(name)[:200], "refused a malformed entry from the runtime")
        return None

    def request_listing(self) -> Future[Header]:
        """The runtime's outputs, in pages checked as they arrive (on the reader thread): only
        the accepted entries are kept, at most ``MAX_LISTED``."""
        self.listing, self.versions = {}, {}

        def on_page(header: Header, _body: bytes) -> None:
            entries = header.get("entries")
            if isinstance(entries, list):
                self._take(entries)

        return self.client.request(
            {
                "op": "manifest",
                "root": self.spec.remote_conn_dir,
                "versions": True,
                "page": LISTING_PAGE,
            },
            on_data=on_page,
        )

    def _take(self, entries: list[Any]) -> None:
        for entry in entries:
            checked = self._checked(entry)
            if checked is None:
                continue
            if len(self.listing) >= MAX_LISTED:
                self.report(checked[0], f"the runtime listed more than {MAX_LISTED:,} outputs")
                continue
            self.listing[checked[0]] = checked[1]
            version = _int_at(entry, 6)
            if version is not None:
                self.versions[checked[0]] = version

    def remote_listing(self, reply: Header) -> tuple[dict[str, Meta], dict[str, int]]:
        """Checked entries and their versions; refused ones are reported, not kept."""
        entries = reply.get("entries")
        if isinstance(entries, list):
            self._take(entries)  # an agent that answers in one piece
        return self.listing, self.versions

    def full(
        self, listing: Future[Header], *, dry_run: bool = False, progress: Progress | None = None
    ) -> PullSummary:
        """One pass; ``listing`` is a manifest request already in flight, saving a round trip.
        A dry run only reads: not even the local connection dir is created or tidied."""
        if not dry_run:
            self.root.mkdir(parents=True, exist_ok=True)
            remove_stale_temps(self.root)
        reply = listing.result(REPLY_TIMEOUT)
        remote, versions = self.remote_listing(reply)
        hot = reply.get("hot")
        # Still being written on the runtime: its watcher reports it once it settles.
        unsettled = {rel for rel in hot if isinstance(rel, str)} if isinstance(hot, list) else set()
        with self.records.lock:
            records = dict(self.records.pulled)
        plan = plan_pull(remote, scan_local(self.root), records)
        plan.reads = [rel for rel in plan.reads if rel not in unsettled]
        summary = PullSummary(refused=list(plan.refused))
        for rel, why in plan.refused:
            self.report(rel, why)
        if dry_run:
            summary.received = list(plan.reads)
            summary.mkdirs = list(plan.mkdirs)
            summary.nbytes = sum(remote[rel].size for rel in plan.reads)
            return summary
        with self.records.lock:
            self.records.pulled.update(plan.adopt)
        self.records.mark()
        self._mkdirs(plan.mkdirs, summary)
        wanted = {rel: Wanted(remote[rel], versions.get(rel)) for rel in plan.reads}
        self.fetch(wanted, progress, summary)
        return summary

    def _mkdirs(self, rels: list[str], summary: PullSummary) -> None:
        for rel in rels:
            try:
                final = local_destination(self.root, rel, create_parents=True)
                final.mkdir(exist_ok=True)
                summary.mkdirs.append(rel)
            except (UnsafePath, OSError) as exc:
                self.report(rel, f"could not create the directory locally ({exc})")

    def _may_replace(self, rel: str, remote: Meta) -> Callable[[Meta | None], bool]:
        def check(local: Meta | None) -> bool:
            with self.records.lock:
                record = self.records.pulled.get(rel)
            return decide_pull(remote, local, record)[0] == "read"

        return check

    def _fresh(self, rel: str, version: int | None, size: int) -> bool:
        """False for an event about an older version than the one pull placed, or that one."""
        if version is None:
            return True
        with self.records.lock:
            known = self.records.versions.get(rel)
        if known is None or version > known[0]:
            return True
        return version == known[0] and size != known[1]

    def _landed(
        self, rel: str, remote: Meta, local: Meta, version: int | None, summary: PullSummary
    ) -> None:
        with self.records.lock:
            self.records.pulled[rel] = (remote, local)
            if version is not None:
                self.records.versions[rel] = (version, remote.size)
        self.records.mark()
        summary.received.append(rel)
        summary.nbytes += local.size

    def on_changed(
        self, entries: list[Any], body: bytes, gone: Collection[str] = ()
    ) -> PullSummary:
        """A watch event: small files come inline, larger ones are fetched, growing ones have
        their new tail appended. ``gone``: removed on the runtime since, so not pulled."""
        summary = PullSummary()
        offset = 0
        fetch: dict[str, Wanted] = {}
        tails: dict[str, Wanted] = {}
        for entry in entries:
            inline = entry[5] if isinstance(entry, list) and len(entry) > 5 else -1
            if not isinstance(inline, int) or inline < -1 or offset + max(inline, 0) > len(body):
                self.report("<event>", "the runtime sent a malformed change event")
                return summary
            data = body[offset : offset + max(inline, 0)]
            offset += max(inline, 0)
            checked = self._checked(entry)
            if checked is None:
                continue
            rel, remote = checked
            version = _int_at(entry, 6)
            if rel in gone or not self._fresh(rel, version, remote.size):
                continue
            wanted = Wanted(remote, version, len(entry) > 7 and entry[7] == "a")
            if wanted.growing:
                with self.records.lock:
                    self.records.appended.add(rel)
            try:
                local = local_meta(local_destination(self.root, rel, create_parents=False))
            except UnsafePath as exc:
                self.report(rel, f"refused a path from the runtime ({exc})")
                continue
            with self.records.lock:
                record = self.records.pulled.get(rel)
            verdict, why = decide_pull(remote, local, record)
            if verdict == "refuse":
                self.report(rel, why)
                summary.refused.append((rel, why))
            elif verdict == "mkdir":
                self._mkdirs([rel], summary)
            elif verdict == "adopt" and local is not None:
                with self.records.lock:
                    self.records.pulled[rel] = (remote, local)
            elif verdict == "read" and self._appendable(rel, wanted, local, record):
                tails[rel] = wanted
            elif verdict == "read" and inline >= 0 and len(data) == remote.size:
                self._write_whole(rel, wanted, data, summary)
            elif verdict == "read":
                fetch[rel] = wanted
        if tails:
            fetch.update(self.append(tails, summary))
        if fetch:
            self.fetch(fetch, None, summary)
        return summary

    def on_moved(self, header: Header, body: bytes, gone: Collection[str] = ()) -> PullSummary:
        """A rename on the runtime: the local copy follows it when it is the one pull placed;
        otherwise the new name is pulled. The old name is never left behind."""
        entries = header.get("entries")
        entries = entries if isinstance(entries, list) else []
        try:
            src = check_remote_relpath(header.get("src"))
            dst = check_remote_relpath(header.get("dst"))
        except UnsafePath as exc:
            self.report(str(header.get("src"))[:200], f"refused a rename from the runtime ({exc})")
            return self.on_changed(entries, body, gone)
        if header.get("kind") == "d":
            return self._moved_dir(src, dst, entries, header.get("last") is not False, gone)
        target = self._checked(entries[0]) if len(entries) == 1 else None
        remote = target[1] if target is not None and target[0] == dst else None
        summary = PullSummary()
        if self._follow(src, dst, remote, _int_at(entries[0], 6) if remote else None, summary):
            return summary
        return self.on_changed(entries, body, gone)

    def _moved_dir(
        self, src: str, dst: str, entries: list[Any], last: bool, gone: Collection[str]
    ) -> PullSummary:
        """A directory renamed on the runtime, one frame of its files: each copy pull placed
        under the old name is renamed to the new one, the rest is fetched; after the last
        frame, copies left under the old name (their file is gone or changed) are removed,
        and so are the directories that emptied."""
        summary = PullSummary()
        rest: list[Any] = []
        prefix = dst + "/"
        for entry in entries:
            checked = self._checked(entry)
            if checked is None:
                continue
            rel, remote = checked
            old = src + rel[len(dst) :]
            if not (rel.startswith(prefix) and remote.kind == "f") or not self._follow(
                old, rel, remote, _int_at(entry, 6), summary
            ):
                rest.append([*entry[:5], -1, *entry[6:]])  # no content travels with a move
        if last:
            self._leave(src)
        summary.add(self.on_changed(rest, b"", gone))
        return summary

    def _follow(
        self, src: str, dst: str, remote: Meta | None, version: int | None, summary: PullSummary
    ) -> bool:
        """Rename the copy pull placed at ``src`` to ``dst`` if ``remote`` (the file now at
        ``dst``) has its content; a copy that cannot follow is removed. False: ``dst`` still
        needs pulling."""
        copy = self._placed(src)
        if copy is None:
            return False
        path, placed = copy
        if (
            remote is not None
            and remote.same_content_hint(placed)
            and self._rename(path, dst, remote)
        ):
            local = local_meta(self.root / dst)
            assert local is not None
            self._forget(src)
            self._landed(dst, remote, local, version, summary)
            return True
        path.unlink(missing_ok=True)
        self._forget(src)
        return False

    def _placed(self, rel: str) -> tuple[Path, Meta] | None:
        """The local copy at ``rel`` and the remote version it is, if pull placed it and it
        was not edited since; anything else is left alone."""
        try:
            path = local_destination(self.root, rel, create_parents=False)
        except UnsafePath:
            return None
        with self.records.lock:
            record = self.records.pulled.get(rel)
        if record is None or record[1] != local_meta(path):
            return None
        return path, record[0]

    def _forget(self, rel: str) -> None:
        with self.records.lock:
            self.records.pulled.pop(rel, None)
            self.records.versions.pop(rel, None)
        self.records.mark()

    def _leave(self, src: str) -> None:
        """Remove what pull placed under a directory renamed away, then the emptied
        directories (never following a symlink)."""
        prefix = src + "/"
        with self.records.lock:
            left = [rel for rel in self.records.pulled if rel.startswith(prefix)]
        for rel in left:
            copy = self._placed(rel)
            if copy is not None:
                copy[0].unlink(missing_ok=True)
                self._forget(rel)
        try:
            top = local_destination(self.root, src, create_parents=False)
        except UnsafePath:
            return
        for directory, _dirs, _files in os.walk(top, topdown=False):
            try:
                Path(directory).rmdir()
            except OSError:
                continue

    def _rename(self, src_path: Path, dst: str, remote: Meta) -> bool:
        try:
            dst_path = local_destination(self.root, dst, create_parents=True)
        except (UnsafePath, OSError):
            return False
        if not self._may_replace(dst, remote)(local_meta(dst_path)):
            return False
        try:
            src_path.rename(dst_path)
        except OSError:
            return False
        return True

    def _appendable(
        self, rel: str, wanted: Wanted, local: Meta | None, record: tuple[Meta, Meta] | None
    ) -> bool:
        """A file seen being appended to, whose local copy is the one pull placed, is longer on
        the runtime: maybe an append (checked when the tail arrives). A checkpoint rewritten
        larger is not tried: it comes whole at once."""
        remote = wanted.meta
        with self.records.lock:
            appended = wanted.growing or rel in self.records.appended
        return (
            appended
            and record is not None
            and local is not None
            and record[1] == local
            and remote.kind == "f"
            and record[0].size < remote.size <= record[0].size + TAIL_LIMIT
        )

    def _write_whole(self, rel: str, wanted: Wanted, data: bytes, summary: PullSummary) -> None:
        remote = wanted.meta
        try:
            self.writer.begin(rel, remote.mode)
            self.writer.write(rel, data)
            local = self.writer.commit(rel, remote, self._may_replace(rel, remote))
        except (UnsafePath, OSError) as exc:
            self.writer.abort(rel)
            self.report(rel, f"not written locally ({exc})")
            return
        self._landed(rel, remote, local, wanted.version, summary)

    def append(self, tails: dict[str, Wanted], summary: PullSummary) -> dict[str, Wanted]:
        """Fetch the new tails of files pull placed and append them in place; returns those
        that turned out not to be appends (to pull whole, unless still being written)."""
        spans: dict[str, tuple[int, int, bytes, Path]] = {}
        for rel, wanted in tails.items():
            with self.records.lock:
                record = self.records.pulled[rel]
            placed = record[0].size
            start = max(0, placed - OVERLAP)
            try:
                path = local_destination(self.root, rel, create_parents=False)
            except UnsafePath:
                continue
            before = _read_range(path, start, placed)
            if before is not None and len(before) == placed - start:
                spans[rel] = (start, wanted.meta.size, before, path)
        chunks: dict[str, bytearray] = {rel: bytearray() for rel in spans}
        finals: dict[str, Header] = {}

        def on_data(header: Header, body: bytes) -> None:
            rel = header.get("path")
            if not isinstance(rel, str) or rel not in chunks:
                self.report(str(rel)[:200], "the runtime sent a file that was not asked for")
                return
            start, end, _before, _path = spans[rel]
            if len(chunks[rel]) + len(body) > end - start:
                self.report(rel, "the runtime sent more than it announced; cut off")
                del chunks[rel]
                return
            chunks[rel] += body
            if header.get("last"):
                finals[rel] = header

        tail_spans = {rel: [start, end] for rel, (start, end, _b, _p) in spans.items()}
        self._read(list(spans), on_data, tails=tail_spans)
        whole: dict[str, Wanted] = {rel: w for rel, w in tails.items() if rel not in spans}
        verify: dict[str, int] = {}
        for rel, (start, end, before, path) in spans.items():
            wanted = tails[rel]
            data = chunks.get(rel)
            final = finals.get(rel)
            if data is None or final is None:
                continue
            intact = (
                not final.get("changed")
                and len(data) == end - start
                and final.get("sha256") == hashlib.sha256(data).hexdigest()
            )
            if not intact or data[: len(before)] != before:
                if not wanted.growing:
                    whole[rel] = wanted  # rewritten, not appended to: the whole file comes
                continue
            tail = bytes(data[len(before) :])
            if self._append_in_place(rel, path, tail, wanted, summary) and not wanted.growing:
                verify[rel] = end
        whole.update(self._mismatched(verify, tails))
        return whole

    def _append_in_place(
        self, rel: str, path: Path, data: bytes, wanted: Wanted, summary: PullSummary
    ) -> bool:
        with self.records.lock:
            record = self.records.pulled.get(rel)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
        except OSError:
            return False
        try:
            # Edited locally since it was checked: pull leaves it alone.
            if record is None or Meta.from_stat(os.fstat(fd)) != record[1]:
                return False
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            remote = Meta("f", wanted.meta.size, wanted.meta.mtime_ns, wanted.meta.mode)
            os.utime(fd, ns=(remote.mtime_ns, remote.mtime_ns))
            local = Meta.from_stat(os.fstat(fd))
        except OSError as exc:
            self.report(rel, f"not written locally ({exc})")
            return False
        finally:
            os.close(fd)
        assert local is not None
        self._landed(rel, remote, local, wanted.version, summary)
        return True

    def _mismatched(self, sizes: dict[str, int], tails: dict[str, Wanted]) -> dict[str, Wanted]:
        """Settled files grown by appends: their whole content compared by hash with the
        runtime's; a file changed before the tail (not an append after all) is pulled whole."""
        if not sizes:
            return {}
        try:
            reply = self.client.call(
                {
                    "op": "hash",
                    "root": self.spec.remote_conn_dir,
                    "paths": list(sizes),
                    "sizes": sizes,
                },
                timeout=REPLY_TIMEOUT,
            )
        except RemoteError:
            return {}
        hashes = reply.get("hashes")
        hashes = hashes if isinstance(hashes, dict) else {}
        mismatched: dict[str, Wanted] = {}
        for rel in sizes:
            ours = file_hash(str(self.root / rel))
            if ours is None or hashes.get(rel) != ours:
                mismatched[rel] = tails[rel]
        return mismatched

    def _read(
        self,
        paths: list[str],
        on_data: Callable[[Header, bytes], None],
        *,
        tails: dict[str, list[int]] | None = None,
        sizes: dict[str, int] | None = None,
    ) -> None:
        if not paths:
            return
        request: Header = {"op": "read", "root": self.spec.remote_conn_dir, "paths": paths}
        if tails:
            request["tails"] = tails
        if sizes:
            request["sizes"] = sizes
        future = self.client.request(request, on_data=on_data)
        try:
            reply = future.result(REPLY_TIMEOUT)
        except RemoteError as exc:
            self.report(self.spec.remote_conn_dir, f"could not read outputs ({exc.message})")
            return
        # Files removed before they could be read ("missing") are simply not pulled.
        errors = reply.get("errors")
        for item in errors if isinstance(errors, list) else []:
            if isinstance(item, list) and len(item) == 2:
                self.report(str(item[0])[:200], f"could not be read on the runtime: {item[1]}")

    def fetch(
        self, wanted: dict[str, Wanted], progress: Progress | None, summary: PullSummary
    ) -> None:
        """Read files over one request; chunks go straight to temp files on the reader thread.
        None grows past its announced size; each is checked against its size and hash."""
        if not wanted:
            return
        progress = progress or NoProgress()
        progress.begin("pull", len(wanted), sum(w.meta.size for w in wanted.values()))
        started: set[str] = set()
        received: dict[str, int] = {}
        digests: dict[str, Any] = {}
        cut: set[str] = set()
        writer = LocalWriter(self.root)

        def on_data(header: Header, body: bytes) -> None:
            rel = header.get("path")
            if not isinstance(rel, str) or rel not in wanted:
                self.report(str(rel)[:200], "the runtime sent a file that was not asked for")
                return
            if writer.closed or rel in cut:
                return
            if header.get("changed") and rel not in started:
                return  # changed since it was announced: its next event brings it
            want = wanted[rel]
            if received.get(rel, 0) + len(body) > want.meta.size:
                writer.abort(rel)
                started.discard(rel)
                cut.add(rel)
                self.report(rel, "the runtime sent more than it announced; cut off")
                return
            if rel not in started:
                try:
                    writer.begin(rel, want.meta.mode)
                except (UnsafePath, OSError) as exc:
                    self.report(rel, f"not written locally ({exc})")
                    cut.add(rel)
                    return
                started.add(rel)
                received[rel] = 0
                digests[rel] = hashlib.sha256()
            writer.write(rel, body)
            received[rel] += len(body)
            digests[rel].update(body)
            progress.advance(0, len(body))
            if not header.get("last"):
                return
            started.discard(rel)
            if header.get("changed"):
                writer.abort(rel)  # changed since it was announced: its next event brings it
                return
            if received[rel] != want.meta.size or header.get("sha256") != digests[rel].hexdigest():
                writer.abort(rel)
                self.report(rel, "arrived incomplete or altered; not placed")
                return
            if want.growing:
                actual, version = want.meta, want.version
            else:
                try:
                    actual = Meta("f", want.meta.size, int(header["mtime_ns"]), int(header["mode"]))
                    version = int(header["ctime_ns"])
                except (KeyError, TypeError, ValueError):
                    actual, version = want.meta, want.version
            try:
                local = writer.commit(rel, actual, self._may_replace(rel, actual))
            except (UnsafePath, OSError) as exc:
                writer.abort(rel)
                self.report(rel, f"not written locally ({exc})")
                return
            self._landed(rel, actual, local, version, summary)
            progress.advance(1, 0)

        try:
            self._read(
                list(wanted),
                on_data,
                tails={rel: [0, w.meta.size] for rel, w in wanted.items() if w.growing},
                sizes={rel: w.meta.size for rel, w in wanted.items() if not w.growing},
            )
        finally:
            writer.close()
        progress.end()
