"""The sync engine: scan → reconcile → transfer, then watch both sides; reconnect on drops.

One worker thread owns the agent connection and does every transfer, so push and pull never
race each other. A watchdog observer and the agent's watch stream only mark work for it. After
a drop, the engine retries with backoff and re-diffs both trees, so nothing is lost and nothing
is sent twice. Failures it cannot reason about halt it (state ``halted``) instead of guessing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import paramiko

from colablink.errors import (
    AuthFailed,
    ColabLinkError,
    HostKeyMismatch,
    RemoteError,
    SyncHalted,
    Unreachable,
)
from colablink.ssh.bootstrap import BOOTSTRAP
from colablink.sync.agent_client import ChannelDuplex, ConnectionLost, Header, SyncAgentClient
from colablink.sync.ignore import IgnoreRules
from colablink.sync.localwatch import LocalWatch
from colablink.sync.progress import Progress
from colablink.sync.pull import Puller, PullSummary
from colablink.sync.push import Pusher, PushSummary
from colablink.sync.records import Records
from colablink.sync.scan import Meta, scan_in_background
from colablink.sync.spec import SyncSpec, spec_for

if TYPE_CHECKING:
    from colablink.local.profiles import Profile

log = logging.getLogger(__name__)

# Errors that mean "the link is gone", as opposed to a bug or a refusal.
LINK_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionLost,
    OSError,
    EOFError,
    TimeoutError,
    Unreachable,
    paramiko.SSHException,
)
# A refused key means "re-run `colablink init`" (a restarted runtime, whose old address may now
# serve another machine): retry too, as the next dial goes wherever init stored. Nothing is sent
# to a host whose key is not pinned.
RETRY_ERRORS: tuple[type[BaseException], ...] = (AuthFailed, HostKeyMismatch, *LINK_ERRORS)
# Runtime events queued beyond this while the worker is busy are dropped for a full pass: memory
# stays bounded whatever the runtime sends, and nothing is lost.
MAX_QUEUED_EVENTS = 1000
# The runtime's events that arrived together are applied together: frames read off one write come
# one by one, and a removal right behind a change must be seen before the change is pulled.
REMOTE_GATHER_S = 0.02
# (path, why) pairs remembered so each is reported once; past this, repeats are only counted.
MAX_REMEMBERED_PROBLEMS = 10_000
# Problems kept for ``problems`` (the helper and ``colablink sync`` show them).
MAX_KEPT_PROBLEMS = 200
# Problems of one kind named one by one; the rest are counted into one line per pass.
NAMED_PER_KIND = 5


class SessionLike(Protocol):
    def open_exec(self, command: str) -> Any: ...


@dataclass(frozen=True)
class SyncState:
    """idle, scanning, pushing N, pulling N, disconnected, retrying in N s, halted, stopped."""

    kind: str
    count: int = 0
    detail: str = ""

    def __str__(self) -> str:
        if self.kind in ("pushing", "pulling"):
            return f"{self.kind} {self.count}"
        if self.kind == "retrying":
            return f"retrying in {self.count} s"
        if self.kind in ("halted", "disconnected") and self.detail:
            return f"{self.kind}: {self.detail}"
        return self.kind


@dataclass
class SyncReport:
    push: PushSummary = field(default_factory=PushSummary)
    pull: PullSummary = field(default_factory=PullSummary)
    problems: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Backoff:
    first: float = 0.5
    limit: float = 30.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        return float(min(self.limit, self.first * self.factor**attempt))


class SyncEngine:
    """Hosted by ``colablink watch`` and the VS Code helper; ``sync_once`` is ``colablink sync``.

    ``connect`` returns a live session (anything with ``open_exec``); it is called again after
    a drop and may raise while the runtime is unreachable.
    """

    def __init__(
        self,
        profile_or_spec: SyncSpec | Profile,
        connect: Callable[[], SessionLike],
        *,
        debounce: float = 0.2,
        interval: float = 0.5,
        settle: float = 1.0,
        excludes: Sequence[str] = (),
        backoff: Backoff | None = None,
        agent_source: bytes | None = None,
    ) -> None:
        if isinstance(profile_or_spec, SyncSpec):
            spec = profile_or_spec
            self.spec = replace(spec, excludes=(*spec.excludes, *excludes)) if excludes else spec
        else:
            # A stored profile: records in the config dir, other profiles' outputs left out.
            self.spec = spec_for(profile_or_spec, excludes=tuple(excludes))
        self.connect = connect
        self.debounce = debounce
        self.interval = interval
        self.settle = settle
        self.backoff = backoff or Backoff()
        self.agent_source = agent_source
        self.rules = IgnoreRules(
            self.spec.local_root,
            ignored_dirs=self.spec.ignored_dirs(),
            excludes=self.spec.excludes,
        )
        self.records = Records(self.spec.state_path, self.spec.key)
        self.problems: list[tuple[str, str]] = []
        self._state = SyncState("stopped")
        self._state_listeners: list[Callable[[SyncState], None]] = []
        self._output_listeners: list[Callable[[list[Path]], None]] = []
        self._pushed_listeners: list[Callable[[list[str]], None]] = []
        self._problem_listeners: list[Callable[[str, str], None]] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch = LocalWatch(self.spec.local_root, self.rules, self._cond)
        self._watch.on_rules_changed = self._rules_changed
        self._watch.on_overflow = self._rules_changed  # events were lost: rescan everything
        self._watching: Future[None] = Future()
        self._watching.set_result(None)  # not watching yet: nothing to wait for
        self._remote_events: list[tuple[Header, bytes]] = []
        self._rescan = False
        self._requested = 0
        self._completed = 0
        self._client: SyncAgentClient | None = None
        self._reported: set[tuple[str, str]] = set()
        # Problems of one kind (their text with the path left out) past the first few: counted
        # and reported as one line per pass.
        self._kinds: dict[str, int] = {}
        self._repeats: dict[str, int] = {}
        self._report_lock = threading.Lock()
        self._progress: Progress | None = None

    # -- observation ----------------------------------------------------------------------

    @property
    def state(self) -> SyncState:
        return self._state

    def on_state(self, callback: Callable[[SyncState], None]) -> None:
        self._state_listeners.append(callback)

    def on_outputs(self, callback: Callable[[list[Path]], None]) -> None:
        """Called with the local paths of outputs that just landed."""
        self._output_listeners.append(callback)

    def on_pushed(self, callback: Callable[[list[str]], None]) -> None:
        """Called with project-relative paths once the runtime acknowledged them."""
        self._pushed_listeners.append(callback)

    def on_problem(self, callback: Callable[[str, str], None]) -> None:
        """Called with (path, why) for every refused or failed entry, once per distinct pair."""
        self._problem_listeners.append(callback)

    def _set_state(self, state: SyncState) -> None:
        if state == self._state:
            return
        self._state = state
        for callback in self._state_listeners:
            callback(state)

    def _report(self, path: str, why: str) -> None:
        """Each (path, why) once; of one kind, the first few in full, the rest as a count."""
        key = (path, why)
        kind = why.replace(path, "…") if path else why
        with self._report_lock:
            if key in self._reported:
                return
            if len(self._reported) < MAX_REMEMBERED_PROBLEMS:
                self._reported.add(key)
            named = self._kinds.get(kind, 0)
            if named >= NAMED_PER_KIND:
                self._repeats[kind] = self._repeats.get(kind, 0) + 1
                return
            if named or len(self._kinds) < MAX_REMEMBERED_PROBLEMS:
                self._kinds[kind] = named + 1
        self._tell(path, why)

    def _tell(self, path: str, why: str) -> None:
        if len(self.problems) < MAX_KEPT_PROBLEMS:
            self.problems.append((path, why))
        log.warning("sync: %s: %s", path, why)
        for callback in self._problem_listeners:
            callback(path, why)

    def _report_repeats(self) -> None:
        """One line per kind for what was only counted since the last call."""
        with self._report_lock:
            repeats, self._repeats = self._repeats, {}
        for kind, count in repeats.items():
            self._tell(f"{count} more path{'s' if count > 1 else ''}", kind)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, progress: Progress | None = None) -> None:
        """Start watching and syncing in the background; returns at once.

        ``progress`` hears the first full pass (files, bytes) after each (re)connect.
        """
        if self._thread is not None:
            return
        self._progress = progress
        self._stop.clear()
        self._watching = Future()
        threading.Thread(target=self._start_watch, name="colablink-watch", daemon=True).start()
        self._thread = threading.Thread(target=self._run, name="colablink-sync", daemon=True)
        self._thread.start()

    def _start_watch(self) -> None:
        """The local watcher is set up while the agent starts (it walks every directory: 0.2 s
        for 6,600 of them); the first pass waits for it, so no change falls between the two."""
        try:
            self._watch.start()
        except BaseException as exc:
            self._watching.set_exception(exc)
        else:
            self._watching.set_result(None)

    def _watch_started(self) -> None:
        try:
            self._watching.result()
        except Exception as exc:
            raise SyncHalted(f"cannot watch the project for changes ({describe(exc)})") from exc

    def stop(self, timeout: float = 30.0) -> None:
        """Stop and leave no partial file on either side (closing the agent removes its temps)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        client = self._client
        if client is not None:
            client.close()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._watching.exception()  # a watcher still being set up is stopped once it is up
        self._watch.stop()
        self.records.save(force=True)
        self._set_state(SyncState("stopped"))

    def flush(self, paths: Sequence[str | Path] | None = None, timeout: float = 60.0) -> bool:
        """Push ``paths`` (or everything pending) now; True once it landed on the runtime."""
        with self._cond:
            if paths is None:
                self._watch.force_all()
            else:
                for path in paths:
                    rel = self._project_rel(path)
                    if rel is not None:
                        self._watch.mark(rel, ready=True)
            self._requested += 1
            target = self._requested
            self._cond.notify_all()
            self._cond.wait_for(
                lambda: (
                    self._completed >= target or self._stop.is_set() or self._state.kind == "halted"
                ),
                timeout,
            )
            return self._completed >= target

    def _project_rel(self, path: str | Path) -> str | None:
        candidate = Path(path)
        if not candidate.is_absolute():
            return candidate.as_posix()
        try:
            return candidate.relative_to(self.spec.local_root).as_posix()
        except ValueError:
            return None

    def sync_once(self, dry_run: bool = False, progress: Progress | None = None) -> SyncReport:
        """One full pass both ways: with a running engine, through it; otherwise on its own."""
        if self._thread is not None and not dry_run:
            with self._cond:
                self._rescan = True
            if not self.flush(None, timeout=600.0):
                raise SyncHalted(f"sync did not complete ({self._state})")
            return SyncReport(problems=list(self.problems))
        # Nothing else uses the rules while no worker runs: the scan overlaps the connect.
        scanned = scan_in_background(self.spec.local_root, self.rules, links=True)
        try:
            client = self._open_agent()
        except BaseException:
            scanned.exception()  # the scan ends before anything else may use the rules
            raise
        try:
            return self._full_pass(client, dry_run=dry_run, progress=progress, scanned=scanned)
        finally:
            client.close()
            if not dry_run:
                self.records.save(force=True)

    # -- the worker -----------------------------------------------------------------------

    def _open_agent(self) -> SyncAgentClient:
        session = self.connect()
        channel = session.open_exec(BOOTSTRAP)
        client = SyncAgentClient(
            ChannelDuplex(channel),
            on_event=self._on_remote_event,
            on_lost=lambda _exc: self._wake(),
            source=self.agent_source,
        )
        try:
            client.begin()  # the first requests follow without waiting for the agent's hello
        except BaseException:
            client.close()
            raise
        return client

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _rules_changed(self) -> None:
        """Called with ``_cond`` held: newly un-ignored files (or lost events) need a full
        pass."""
        self._rescan = True

    def _on_remote_event(self, header: Header, body: bytes) -> None:
        with self._cond:
            if header.get("op") == "rescan" or len(self._remote_events) >= MAX_QUEUED_EVENTS:
                self._remote_events.clear()
                self._rescan = True
            else:
                self._remote_events.append((header, body))
            self._cond.notify_all()

    def _full_pass(
        self,
        client: SyncAgentClient,
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
        scanned: Future[dict[str, Meta]] | None = None,
    ) -> SyncReport:
        report = SyncReport()
        self._set_state(SyncState("scanning"))
        pusher = Pusher(client, self.spec, self.rules, self.records, self._report)
        puller = Puller(client, self.spec, self.records, self._report)
        pull_listing = puller.request_listing()  # both listings travel in one round trip
        plan, local = pusher.plan(dry_run=dry_run, scanned=scanned)
        if not dry_run:
            self._set_state(SyncState("pushing", len(plan.puts) + len(plan.deletes)))
        report.push = pusher.full(plan, local, dry_run=dry_run, progress=progress)
        self._set_state(SyncState("scanning"))
        report.pull = puller.full(pull_listing, dry_run=dry_run, progress=progress)
        if report.pull.received and not dry_run:
            self._set_state(SyncState("pulling", len(report.pull.received)))
            self._notify_outputs(report.pull.received)
        if report.push.sent:
            self._notify_pushed(report.push.sent)
        if not dry_run:
            self.records.save()
        self._report_repeats()
        report.problems = list(self.problems)
        return report

    def _notify_outputs(self, rels: list[str]) -> None:
        paths = [self.spec.local_conn_dir / rel for rel in rels]
        for callback in self._output_listeners:
            callback(paths)

    def _notify_pushed(self, rels: list[str]) -> None:
        for callback in self._pushed_listeners:
            callback(rels)

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            client: SyncAgentClient | None = None
            try:
                self._set_state(SyncState("scanning"))
                client = self._open_agent()
                self._client = client
                attempt = 0
                self._serve(client)
            except SyncHalted as exc:
                self._halt(exc.message)
                return
            except RETRY_ERRORS as exc:
                if self._stop.is_set():
                    return
                self._set_state(SyncState("disconnected", detail=describe(exc)))
                self._wait_retry(self.backoff.delay(attempt))
                attempt += 1
            except RemoteError as exc:
                self._halt(exc.message)
                return
            except Exception as exc:
                log.exception("sync stopped on an unexpected error")
                self._halt(describe(exc))
                return
            finally:
                self._client = None
                if client is not None:
                    client.close()
                self.records.save(force=True)

    def _halt(self, why: str) -> None:
        self._set_state(SyncState("halted", detail=why))
        with self._cond:
            self._cond.notify_all()

    def _wait_retry(self, delay: float) -> None:
        deadline = time.monotonic() + delay
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._set_state(SyncState("retrying", max(1, round(left))))
            self._stop.wait(min(left, 1.0))

    def _serve(self, client: SyncAgentClient) -> None:
        reply = client.call(
            {
                "op": "watch",
                "watch": 1,
                "root": self.spec.remote_conn_dir,
                "settle": self.settle,
                "interval": self.interval,
                "mode": "auto",
            }
        )
        log.debug("remote watch mode: %s", reply.get("mode"))
        self._watch_started()
        with self._cond:
            self._watch.clear()
            self._remote_events.clear()
            self._rescan = False
            target = self._requested
        with self.records.lock:
            self.records.versions.clear()  # versions are this agent's clock's
            self.records.appended.clear()
        self._full_pass(client, progress=self._progress)
        self._finish(target)
        pusher = Pusher(client, self.spec, self.rules, self.records, self._report)
        puller = Puller(client, self.spec, self.records, self._report)
        while not self._stop.is_set():
            if not client.alive:
                raise ConnectionLost(str(client.lost))
            self._set_state(SyncState("idle"))
            with self._cond:
                # The deadline is recomputed after every wake-up: an event that is not ready
                # yet (a write with no close, a new symlink) starts its own debounce ceiling.
                while not (
                    self._stop.is_set()
                    or not client.alive
                    or self._rescan
                    or bool(self._remote_events)
                    or self._requested > self._completed
                    or self._watch.has_ready(self.debounce)
                ):
                    self._cond.wait(self._watch.next_deadline(self.debounce))
                if self._remote_events and not self._stop.is_set():
                    self._cond.wait(REMOTE_GATHER_S)
                if self._stop.is_set():
                    return
                target = self._requested
                rescan, self._rescan = self._rescan, False
                events, self._remote_events = self._remote_events, []
                dirty, moves = self._watch.take_ready(self.debounce)
            if not client.alive:
                raise ConnectionLost(str(client.lost))
            if rescan:
                with self._cond:
                    self._watch.clear()
                self._full_pass(client)
            elif dirty or moves:
                self._set_state(SyncState("pushing", len(dirty)))
                summary = pusher.push_dirty(dirty, moves)
                if summary.sent or summary.deleted:
                    self._notify_pushed(summary.sent + summary.deleted)
            if events:
                self._pull_events(puller, events)
            self.records.save()
            self._finish(target)

    def _pull_events(self, puller: Puller, events: list[tuple[Header, bytes]]) -> None:
        """Apply the runtime's events in order; a file removed by a later event is not pulled."""
        removed_at: dict[str, int] = {}  # path -> index of the last event that removed it
        for index, (header, _body) in enumerate(events):
            paths = header.get("paths") if header.get("op") == "removed" else None
            for path in paths if isinstance(paths, list) else []:
                if isinstance(path, str):
                    removed_at[path] = index
        for index, (header, body) in enumerate(events):
            op = header.get("op")
            if op == "removed":
                continue
            later = RemovedAfter(removed_at, index)
            entries = header.get("entries")
            if not isinstance(entries, list):
                self._report("<event>", "the runtime sent a malformed change event")
                continue
            self._set_state(SyncState("pulling", max(len(entries), 1)))
            if op == "moved":
                landed = puller.on_moved(header, body, later)
            else:
                landed = puller.on_changed(entries, body, later)
            if landed.received:
                self._notify_outputs(landed.received)
        self._report_repeats()

    def _finish(self, target: int) -> None:
        with self._cond:
            self._completed = max(self._completed, target)
            self._cond.notify_all()


class RemovedAfter(Collection[str]):
    """The paths a later event (after ``index``) removed: those are not pulled."""

    def __init__(self, removed_at: dict[str, int], index: int) -> None:
        self.removed_at = removed_at
        self.index = index

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.removed_at.get(path, -1) > self.index

    def __iter__(self) -> Iterator[str]:
        return (path for path, at in self.removed_at.items() if at > self.index)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def describe(exc: BaseException) -> str:
    if isinstance(exc, ColabLinkError):
        return exc.message
    return str(exc) or type(exc).__name__
