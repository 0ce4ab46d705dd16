"""Sources up: the project tree to the remote root, pipelined over the agent's channel.

Small files travel many to a frame; large ones stream in chunks. Acknowledgements are collected
at the end of a batch, never per file. Deletes and renames touch only what push placed, and
nothing under a connection directory is ever sent or removed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field

from colablink_runtime.sync_agent import file_hash, gc_paused

from colablink.errors import RemoteError
from colablink.pathsafety import UnsafePath, check_remote_relpath
from colablink.sync.agent_client import Header, SyncAgentClient
from colablink.sync.digests import diverging, expected, members
from colablink.sync.ignore import BUILTIN_DIR_NAMES, IgnoreRules
from colablink.sync.links import OUTSIDE, inside_target
from colablink.sync.progress import NoProgress, Progress
from colablink.sync.reconcile import PushPlan, coarse, plan_push
from colablink.sync.records import Records
from colablink.sync.scan import Meta, local_meta, scan_local
from colablink.sync.spec import SyncSpec
from colablink.sync.wire import READ_CHUNK

FRAME_TARGET = 4 * 1024 * 1024  # small files are packed into frames of about this size
SMALL_FILE = 1024 * 1024
# Past this share of directories differing (and this many), the runtime lists its whole tree
# in one reply rather than directory by directory.
FULL_LISTING_SHARE = 0.5
FULL_LISTING_MIN = 64
REPLY_TIMEOUT = 600.0

Report = Callable[[str, str], None]


@dataclass
class PushSummary:
    sent: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    mkdirs: list[str] = field(default_factory=list)
    nbytes: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


class Pusher:
    def __init__(
        self,
        client: SyncAgentClient,
        spec: SyncSpec,
        rules: IgnoreRules,
        records: Records,
        report: Report,
    ) -> None:
        self.client = client
        self.spec = spec
        self.root = spec.local_root
        self.root_str = str(spec.local_root)
        self.rules = rules
        self.records = records
        self.report = report

    # -- listings ---------------------------------------------------------------------------

    def _request(self, op: str, **extra: object) -> Future[Header]:
        return self.client.request(
            {
                "op": op,
                "root": self.spec.remote_root,
                "prune": list(self.spec.ignored_dirs()),
                "prune_names": list(BUILTIN_DIR_NAMES),
                **extra,
            }
        )

    def request_listing(self, dirs: list[str] | None = None) -> Future[Header]:
        """The remote tree's entries; with ``dirs``, only those directly in these."""
        return self._request("manifest") if dirs is None else self._request("manifest", dirs=dirs)

    def remote_listing(self, reply: Header, local: dict[str, Meta]) -> dict[str, Meta]:
        """The remote tree minus ignored paths. The agent lists a directory before its
        contents, so one check per entry suffices; entries push would send are not ignored."""
        listing: dict[str, Meta] = {}
        ignored_dirs: set[str] = set()
        entries = reply.get("entries")
        for entry in entries if isinstance(entries, list) else []:
            try:
                raw, meta = Meta.from_wire(entry)
                # A path the local scan produced is safe; only the others need checking.
                mine = local.get(raw) if isinstance(raw, str) else None
                rel = raw if mine is not None else check_remote_relpath(raw)
            except (UnsafePath, ValueError, TypeError):
                self.report(str(entry[0]) if entry else "?", "the runtime listed an unusable path")
                continue
            assert isinstance(rel, str)
            parent = rel.rpartition("/")[0]
            if parent and parent in ignored_dirs:
                if meta.kind == "d":
                    ignored_dirs.add(rel)
                continue
            is_dir = meta.kind == "d"
            if (mine is None or mine.kind != meta.kind) and self.rules.ignored(rel, is_dir):
                if is_dir:
                    ignored_dirs.add(rel)
                continue
            listing[rel] = meta
        return listing

    # -- whole-tree pass ----------------------------------------------------------------------

    def plan(
        self, *, dry_run: bool = False, scanned: Future[dict[str, Meta]] | None = None
    ) -> tuple[PushPlan, dict[str, Meta]]:
        """What a pass would do; a dry run changes nothing (no remote touch, no records).
        ``scanned``: the local scan, already under way (``scan_in_background``)."""
        pending = self._request("digests")  # the runtime digests its tree while we scan ours
        if scanned is not None:
            local = scanned.result()
        else:
            local = scan_local(self.root, self.rules, links=True)
        with gc_paused():
            grouped = expected(local)
            remote, checked = self._remote_part(pending.result(REPLY_TIMEOUT), local, grouped)
            with self.records.lock:
                placed = dict(self.records.placed)
            if checked is None:
                plan = plan_push(local, remote, placed)
            else:
                mine = members(local, checked) if checked else {}
                plan = plan_push(mine, remote, placed)
                # The other directories hold exactly what the local scan found.
                rest = {r: m for r, m in local.items() if r not in mine} if mine else local
                plan.adopt.update(rest)
        if plan.doubt:
            self._settle_doubt(plan, local, dry_run=dry_run)
        if dry_run:
            return plan, local
        for rel in list(placed):
            # Unlisted remotely and gone locally: in a directory that matched, or under one
            # the runtime lacks (or ignored), so it is gone on both sides.
            if rel not in local and rel not in remote:
                with self.records.lock:
                    self.records.placed.pop(rel, None)
                self.records.mark()
        return plan, local

    def _remote_part(
        self, reply: Header, local: dict[str, Meta], mine: dict[str, str | None]
    ) -> tuple[dict[str, Meta], set[str] | None]:
        """The remote entries of the directories that need comparing, and those directories
        (None: the whole tree was listed)."""
        theirs = reply.get("digests")
        if not isinstance(theirs, dict) or not reply.get("exists", True):
            theirs = {}
        found = diverging(mine, theirs)
        to_list = found.differ + self._remote_only(found.remote_only)
        checked = {*to_list, *found.missing}
        if len(to_list) > max(FULL_LISTING_MIN, FULL_LISTING_SHARE * len(mine)):
            # Most of the tree differs (a runtime filled by other means): one listing of all.
            listing = self.request_listing().result(REPLY_TIMEOUT)
            return self.remote_listing(listing, local), None
        if not to_list:
            return {}, checked
        listing = self.request_listing(to_list).result(REPLY_TIMEOUT)
        return self.remote_listing(listing, local), checked

    def _remote_only(self, dirs: list[str]) -> list[str]:
        """The runtime's directories the local tree lacks and does not ignore (a directory
        deleted locally, or made on the runtime): their entries are compared too. Parents
        come first (``dirs`` is sorted), so one check per directory suffices."""
        wanted: list[str] = []
        ignored: set[str] = set()
        for rel in dirs:
            try:
                check_remote_relpath(rel)
            except UnsafePath:
                self.report(str(rel), "the runtime listed an unusable path")
                continue
            parent = rel.rpartition("/")[0]
            if (parent and parent in ignored) or self.rules.ignored(rel, True):
                ignored.add(rel)
                continue
            wanted.append(rel)
        return wanted

    def _settle_doubt(self, plan: PushPlan, local: dict[str, Meta], *, dry_run: bool) -> None:
        """Same size, unhelpful mtimes: equal hashes only need the mtime fixed remotely."""
        reply = self.client.call(
            {"op": "hash", "root": self.spec.remote_root, "paths": plan.doubt},
            timeout=REPLY_TIMEOUT,
        )
        theirs: dict[str, str | None] = reply.get("hashes", {})
        touch: list[list[object]] = []
        for rel in plan.doubt:
            if theirs.get(rel) is not None and theirs.get(rel) == file_hash(str(self.root / rel)):
                meta = local[rel]
                touch.append([rel, meta.mtime_ns, meta.mode])
                plan.adopt[rel] = meta
            else:
                plan.puts.append(rel)
        plan.doubt = []
        if touch and not dry_run:
            self.client.call(
                {"op": "touch", "root": self.spec.remote_root, "files": touch},
                timeout=REPLY_TIMEOUT,
            )

    def full(
        self,
        plan: PushPlan,
        local: dict[str, Meta],
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> PushSummary:
        """Carry out ``plan`` (from ``plan()``, against the ``local`` scan it was made from)."""
        summary = PushSummary()
        if dry_run:
            summary.sent = [*plan.puts, *plan.links]
            summary.deleted = [rel for rel, _ in plan.deletes]
            summary.mkdirs = [rel for rel, _ in plan.mkdirs]
            summary.nbytes = sum(local[rel].size for rel in plan.puts)
            return summary
        with self.records.lock:
            self.records.placed.update(plan.adopt)
        self.records.mark()
        self._delete(plan.deletes, summary)
        # The agent makes the directories (thousands, on a first sync) while files are read
        # and sent behind that request: it serves requests in order, so they land in them.
        made = self._mkdirs_request(plan.mkdirs)
        items = [(rel, local[rel]) for rel in plan.puts]
        self.send(items, summary, progress=progress)
        self._mkdirs_done(made, plan.mkdirs, local, summary)
        self.links({rel: local[rel] for rel in plan.links}, summary)
        return summary

    # -- incremental pass (watcher-driven) ----------------------------------------------------

    def push_dirty(
        self, dirty: Iterable[str], moves: Iterable[tuple[str, str]] = ()
    ) -> PushSummary:
        summary = PushSummary()
        for src, dst in moves:
            self._move(src, dst, summary)
        files: dict[str, Meta] = {}
        dirs: dict[str, Meta] = {}
        links: dict[str, Meta] = {}
        gone: list[str] = []
        for rel in dict.fromkeys(dirty):
            meta = local_meta(self.root / rel)
            if meta is None:
                gone.append(rel)
                continue
            if self.rules.ignored(rel, meta.kind == "d"):
                continue
            if meta.kind == "l":
                links[rel] = meta
            elif meta.kind == "d":
                dirs[rel] = meta
                for sub, sub_meta in scan_local(
                    self.root, self.rules, under=rel, links=True
                ).items():
                    {"d": dirs, "l": links}.get(sub_meta.kind, files)[sub] = sub_meta
            else:
                files[rel] = meta
        # Only the records these paths need: a save must not copy the whole tree's.
        with self.records.lock:
            records = self.records.placed
            placed = {r: records[r] for r in (*files, *dirs, *gone) if r in records}
            if gone:
                prefixes = tuple(rel + "/" for rel in gone)
                placed.update((r, m) for r, m in records.items() if r.startswith(prefixes))
        deletes: list[tuple[str, str]] = []
        for rel in gone:
            prefix = rel + "/"
            children = [(p, m.kind) for p, m in placed.items() if p.startswith(prefix)]
            if rel in placed:
                deletes.extend(children)
                deletes.append((rel, placed[rel].kind))
            elif children:
                # A directory push never recorded (it came with its files): remove it if empty.
                deletes.extend(children)
                deletes.append((rel, "e"))
        self._delete(deletes, summary)
        new_dirs = [(rel, m.mode) for rel, m in sorted(dirs.items()) if rel not in placed]
        self._mkdirs(new_dirs, dirs, summary)
        items = [
            (rel, meta)
            for rel, meta in sorted(files.items())
            # An event on a whole-second mtime may hide a same-size edit: send it anyway. A
            # mode-only change (chmod +x) is a change too.
            if rel not in placed
            or not placed[rel].same_content_hint(meta)
            or placed[rel].mode != meta.mode
            or coarse(meta.mtime_ns)
        ]
        self.send(items, summary)
        self.links(links, summary)
        return summary

    def _move(self, src: str, dst: str, summary: PushSummary) -> None:
        """A rename of something push placed becomes a remote rename, not a re-send."""
        with self.records.lock:
            placed = self.records.placed.get(src)
            owns_contents = any(rel.startswith(src + "/") for rel in self.records.placed)
        dst_meta = local_meta(self.root / dst)
        if (
            dst_meta is None
            or local_meta(self.root / src) is not None
            or self.rules.ignored(dst, dst_meta.kind == "d")
        ):
            return
        if dst_meta.kind == "f":
            if placed is None or not placed.same_content_hint(dst_meta):
                return
        elif placed is None and not owns_contents:
            return
        try:
            self.client.call(
                {"op": "move", "root": self.spec.remote_root, "src": src, "dst": dst},
                timeout=REPLY_TIMEOUT,
            )
        except RemoteError:
            return  # the runtime refused: the dirty paths fall back to delete + send
        with self.records.lock:
            prefix = src + "/"
            for rel in [r for r in self.records.placed if r == src or r.startswith(prefix)]:
                meta = self.records.placed.pop(rel)
                self.records.placed[dst + rel[len(src) :]] = meta
        self.records.mark()
        summary.deleted.append(src)
        summary.sent.append(dst)

    # -- operations ---------------------------------------------------------------------------

    def _delete(self, deletes: list[tuple[str, str]], summary: PushSummary) -> None:
        if not deletes:
            return
        reply = self.client.call(
            {"op": "delete", "root": self.spec.remote_root, "paths": [list(d) for d in deletes]},
            timeout=REPLY_TIMEOUT,
        )
        failed = {rel for rel, _ in reply.get("errors", [])}
        with self.records.lock:
            for rel, _kind in deletes:
                if rel not in failed:
                    self.records.placed.pop(rel, None)
                    summary.deleted.append(rel)
        self.records.mark()

    def _mkdirs(
        self, mkdirs: list[tuple[str, int]], local: dict[str, Meta], summary: PushSummary
    ) -> None:
        self._mkdirs_done(self._mkdirs_request(mkdirs), mkdirs, local, summary)

    def _mkdirs_request(self, mkdirs: list[tuple[str, int]]) -> Future[Header] | None:
        if not mkdirs:
            return None
        return self.client.request(
            {"op": "mkdir", "root": self.spec.remote_root, "dirs": [list(d) for d in mkdirs]}
        )

    def _mkdirs_done(
        self,
        pending: Future[Header] | None,
        mkdirs: list[tuple[str, int]],
        local: dict[str, Meta],
        summary: PushSummary,
    ) -> None:
        if pending is None:
            return
        reply = pending.result(REPLY_TIMEOUT)
        failed = {rel for rel, _ in reply.get("errors", [])}
        with self.records.lock:
            for rel, _mode in mkdirs:
                if rel not in failed:
                    self.records.placed[rel] = local[rel]
                    summary.mkdirs.append(rel)
        self.records.mark()

    def links(self, links: dict[str, Meta], summary: PushSummary) -> None:
        """Recreate symlinks that stay inside the project; report the others once."""
        wanted: list[tuple[str, str, int]] = []
        for rel, meta in sorted(links.items()):
            target = inside_target(self.root, rel)
            if target is None:
                self.report(rel, OUTSIDE)
            else:
                wanted.append((rel, target, meta.mtime_ns))
        if not wanted:
            return
        reply = self.client.call(
            {"op": "link", "root": self.spec.remote_root, "links": [list(w) for w in wanted]},
            timeout=REPLY_TIMEOUT,
        )
        failed = {rel: why for rel, why in reply.get("errors", [])}
        with self.records.lock:
            for rel, _target, _mtime in wanted:
                if rel in failed:
                    self.report(rel, f"the runtime could not create the symlink ({failed[rel]})")
                else:
                    self.records.placed[rel] = links[rel]
                    summary.sent.append(rel)
        self.records.mark()

    def send(
        self,
        items: list[tuple[str, Meta]],
        summary: PushSummary,
        *,
        progress: Progress | None = None,
    ) -> None:
        """Send files: small ones packed into frames, large ones streamed."""
        if not items:
            return
        progress = progress or NoProgress()
        progress.begin("push", len(items), sum(meta.size for _, meta in items))
        inflight: list[tuple[Future[Header], list[tuple[str, Meta]]]] = []
        batch: list[tuple[str, Meta]] = []
        chunks: list[bytes] = []
        batch_bytes = 0

        def flush_batch() -> None:
            nonlocal batch, chunks, batch_bytes
            if not batch:
                return
            header = {
                "op": "put",
                "root": self.spec.remote_root,
                "files": [[rel, m.size, m.mtime_ns, m.mode] for rel, m in batch],
            }
            inflight.append((self.client.request(header, b"".join(chunks)), batch))
            progress.advance(len(batch), batch_bytes)
            batch, chunks, batch_bytes = [], [], 0

        for rel, meta in items:
            if meta.size > SMALL_FILE:
                streamed = self._stream(rel, progress)
                if streamed is not None:
                    inflight.append(streamed)
                continue
            read = read_consistent(os.path.join(self.root_str, rel))  # noqa: PTH118
            if read is None:
                continue  # vanished or changing: its next event brings it back
            data, actual = read
            batch.append((rel, actual))
            chunks.append(data)
            batch_bytes += len(data)
            if batch_bytes >= FRAME_TARGET or len(batch) >= 4096:
                flush_batch()
        flush_batch()
        for future, sent in inflight:
            try:
                reply = future.result(REPLY_TIMEOUT)
            except RemoteError as exc:
                reply = {"errors": [[rel, exc.message] for rel, _ in sent]}
            failed = {rel: why for rel, why in reply.get("errors", [])}
            with self.records.lock:
                for rel, meta in sent:
                    if rel in failed:
                        summary.failed.append((rel, failed[rel]))
                        self.report(rel, f"could not be written on the runtime: {failed[rel]}")
                        continue
                    self.records.placed[rel] = meta
                    summary.sent.append(rel)
                    summary.nbytes += meta.size
        self.records.mark()
        progress.end()

    def _stream(
        self, rel: str, progress: Progress
    ) -> tuple[Future[Header], list[tuple[str, Meta]]] | None:
        path = self.root / rel
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        with os.fdopen(fd, "rb", buffering=0) as handle:
            meta = Meta.from_stat(os.fstat(fd))
            if meta is None or meta.kind != "f":
                return None
            fid = self.client.new_fid()
            self.client.send(
                {
                    "op": "begin",
                    "fid": fid,
                    "root": self.spec.remote_root,
                    "path": rel,
                    "size": meta.size,
                    "mtime_ns": meta.mtime_ns,
                    "mode": meta.mode,
                }
            )
            buf = bytearray(READ_CHUNK)
            view = memoryview(buf)
            while True:
                count = handle.readinto(buf)
                if not count:
                    break
                self.client.send({"op": "chunk", "fid": fid}, view[:count])
                progress.advance(0, count)
            after = Meta.from_stat(os.fstat(fd))
        if after is None or not after.same_content_hint(meta):
            self.client.send({"op": "abort", "fid": fid})
            return None
        progress.advance(1, 0)
        return self.client.request({"op": "end", "fid": fid}), [(rel, meta)]


def read_consistent(path: str) -> tuple[bytes, Meta] | None:
    """The file's bytes and the metadata they belong to, or None if it changed meanwhile.

    Plain ``os`` calls on a string path: this runs once per file of a 10,000-file first sync.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        before = os.fstat(fd)
        # One byte more than expected: a file that grew meanwhile shows up as too long.
        data = os.read(fd, before.st_size + 1)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    meta = Meta.from_stat(after)
    if meta is None or meta.kind != "f" or len(data) != after.st_size:
        return None
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        return None
    return data, meta
