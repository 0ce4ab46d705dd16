"""Outputs back: the remote connection directory into the local one.

Nothing from the runtime is trusted. Every path is checked (``pathsafety``), symlinks are
reported and never followed, writes are atomic and never leave the local connection directory,
and a local file that pull did not place (or that was edited since) is never overwritten.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colablink_runtime.sync_agent import stale_temp, temp_name

from colablink.errors import RemoteError
from colablink.pathsafety import UnsafePath, check_remote_relpath, local_destination
from colablink.sync.agent_client import Header, SyncAgentClient
from colablink.sync.progress import NoProgress, Progress
from colablink.sync.reconcile import decide_pull, plan_pull
from colablink.sync.records import Records
from colablink.sync.scan import Meta, local_meta, scan_local
from colablink.sync.spec import SyncSpec

REPLY_TIMEOUT = 600.0
Report = Callable[[str, str], None]


@dataclass
class PullSummary:
    received: list[str] = field(default_factory=list)
    mkdirs: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    nbytes: int = 0


class LocalWriter:
    """Atomic writes under the local connection directory; temp files never outlive a stop."""

    counter = itertools.count(1)

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.Lock()
        self.open: dict[str, tuple[int, Path, Path]] = {}
        self.closed = False

    def begin(self, rel: str) -> None:
        final = local_destination(self.root, rel, create_parents=True)
        # The agent's naming, so ``stale_temp`` recognises a dead process's leftovers here too.
        temp = Path(temp_name(str(final.parent), final.name, next(self.counter)))
        with self.lock:
            # After close (a stop, Ctrl+C) late chunks from the reader thread start nothing.
            if self.closed:
                raise UnsafePath(f"{rel!r}: the transfer was stopped")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
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
            os.fchmod(fd, remote.mode & 0o777)
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

    def _checked(self, entry: Any) -> tuple[str, Meta] | None:
        try:
            raw, meta = Meta.from_wire(entry)
            return check_remote_relpath(raw), meta
        except (UnsafePath, ValueError, TypeError, AttributeError) as exc:
            name = entry[0] if isinstance(entry, list) and entry else entry
            self.report(str(name), f"refused a path from the runtime ({exc})")
            return None

    def request_listing(self) -> Future[Header]:
        return self.client.request({"op": "manifest", "root": self.spec.remote_conn_dir})

    def remote_listing(self, reply: Header) -> dict[str, Meta]:
        listing: dict[str, Meta] = {}
        for entry in reply.get("entries", []):
            checked = self._checked(entry)
            if checked is not None:
                listing[checked[0]] = checked[1]
        return listing

    def full(
        self, listing: Future[Header], *, dry_run: bool = False, progress: Progress | None = None
    ) -> PullSummary:
        """One pass; ``listing`` is a manifest request already in flight, saving a round trip."""
        self.root.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self.root)
        remote = self.remote_listing(listing.result(REPLY_TIMEOUT))
        with self.records.lock:
            records = dict(self.records.pulled)
        plan = plan_pull(remote, scan_local(self.root), records)
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
        self.fetch({rel: remote[rel] for rel in plan.reads}, progress, summary)
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

    def _landed(self, rel: str, remote: Meta, local: Meta, summary: PullSummary) -> None:
        with self.records.lock:
            self.records.pulled[rel] = (remote, local)
        self.records.mark()
        summary.received.append(rel)
        summary.nbytes += local.size

    def on_changed(self, entries: list[Any], body: bytes) -> PullSummary:
        """A watch event: small files come inline; larger ones are fetched."""
        summary = PullSummary()
        offset = 0
        fetch: dict[str, Meta] = {}
        for entry in entries:
            inline = entry[5] if isinstance(entry, list) and len(entry) > 5 else -1
            if not isinstance(inline, int) or inline < -1 or offset + max(inline, 0) > len(body):
                self.report(str(entry), "the runtime sent a malformed change event")
                return summary
            data = body[offset : offset + max(inline, 0)]
            offset += max(inline, 0)
            checked = self._checked(entry)
            if checked is None:
                continue
            rel, remote = checked
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
            elif verdict == "read" and inline >= 0 and len(data) == remote.size:
                self._write_whole(rel, remote, data, summary)
            elif verdict == "read":
                fetch[rel] = remote
        if fetch:
            self.fetch(fetch, None, summary)
        return summary

    def _write_whole(self, rel: str, remote: Meta, data: bytes, summary: PullSummary) -> None:
        try:
            self.writer.begin(rel)
            self.writer.write(rel, data)
            local = self.writer.commit(rel, remote, self._may_replace(rel, remote))
        except (UnsafePath, OSError) as exc:
            self.writer.abort(rel)
            self.report(rel, f"not written locally ({exc})")
            return
        self._landed(rel, remote, local, summary)

    def fetch(
        self, wanted: dict[str, Meta], progress: Progress | None, summary: PullSummary
    ) -> None:
        """Read files over one request; chunks go straight to temp files on the reader thread."""
        if not wanted:
            return
        progress = progress or NoProgress()
        progress.begin("pull", len(wanted), sum(m.size for m in wanted.values()))
        started: set[str] = set()
        writer = LocalWriter(self.root)

        def on_data(header: Header, body: bytes) -> None:
            rel = header.get("path")
            if not isinstance(rel, str) or rel not in wanted:
                self.report(str(rel), "the runtime sent a file that was not asked for")
                return
            if writer.closed:
                return
            if rel not in started:
                try:
                    writer.begin(rel)
                except (UnsafePath, OSError) as exc:
                    self.report(rel, f"not written locally ({exc})")
                    wanted.pop(rel)
                    return
                started.add(rel)
            writer.write(rel, body)
            progress.advance(0, len(body))
            if not header.get("last"):
                return
            started.discard(rel)
            remote = wanted[rel]
            try:
                actual = Meta(
                    "f", int(header["size"]), int(header["mtime_ns"]), int(header["mode"])
                )
            except (KeyError, TypeError, ValueError):
                actual = remote
            if header.get("changed"):
                writer.abort(rel)  # still being written: its next event brings it
                return
            try:
                local = writer.commit(rel, actual, self._may_replace(rel, actual))
            except (UnsafePath, OSError) as exc:
                writer.abort(rel)
                self.report(rel, f"not written locally ({exc})")
                return
            self._landed(rel, actual, local, summary)
            progress.advance(1, 0)

        future = self.client.request(
            {"op": "read", "root": self.spec.remote_conn_dir, "paths": list(wanted)},
            on_data=on_data,
        )
        try:
            reply = future.result(REPLY_TIMEOUT)
        except RemoteError as exc:
            self.report(self.spec.remote_conn_dir, f"could not read outputs ({exc.message})")
            reply = {}
        finally:
            writer.close()
        for rel, why in reply.get("errors", []):
            self.report(str(rel), f"could not be read on the runtime: {why}")
        progress.end()
