"""The profiles of this editor window: which exist for the workspace, and which are held live.

Handlers ask the hub for a profile by name; everything blocking runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from colablink.enroll.connection_info import parse_connection_info
from colablink.errors import ColabLinkError, UnknownProfile, UsageError
from colablink.helper.blocking import run_blocking
from colablink.helper.live import LiveProfile, profile_status
from colablink.helper.notifier import Notifier
from colablink.helper.protocol import ConnectParams, ProfileStatus, StatusResult
from colablink.helper.settings import Settings
from colablink.local.profiles import Profile, ProfileStore

log = logging.getLogger(__name__)


def _same_dir(a: Path, b: Path) -> bool:
    return a.expanduser().resolve() == b.expanduser().resolve()


class Hub:
    def __init__(self, notifier: Notifier, store: ProfileStore | None = None) -> None:
        self.notifier = notifier
        self._store = store
        self.workspace_root: Path | None = None
        self.live: dict[str, LiveProfile] = {}
        self._opening: dict[str, asyncio.Future[LiveProfile]] = {}
        self.settings = Settings()

    @property
    def store(self) -> ProfileStore:
        # Created on first use so COLABLINK_CONFIG_DIR is read when it matters.
        if self._store is None:
            self._store = ProfileStore()
        return self._store

    def workspace_profiles(self, root: Path | None = None) -> list[Profile]:
        """Profiles whose project root is the workspace (all profiles if none is known)."""
        root = root or self.workspace_root
        found: list[Profile] = []
        for name in self.store.names():
            try:
                profile = self.store.load(name)
            except ColabLinkError as exc:
                log.warning("%s", exc.message)
                continue
            if root is None or _same_dir(profile.project_root, root):
                found.append(profile)
        return found

    def has_workspace_profile(self) -> bool:
        return bool(self.workspace_profiles())

    async def connect(
        self, params: ConnectParams, report: Callable[[str], None] = lambda _: None
    ) -> ProfileStatus:
        """Enrol (connection info) or pick the profile, then hold it; ``report`` hears each step.

        Cancelling the await stops the enrolment at its next step, which undoes what it did.
        """
        root = Path(params["workspaceRoot"])
        if self.workspace_root is None:
            self.workspace_root = root
        name = params.get("profile")
        text = params.get("connectionInfo")
        if text is not None:
            profile = await self.enrolled(
                lambda step: self._enroll(text, name, params, root, step), report
            )
        elif name is not None:
            profile = self.store.load(name)
        else:
            profile = self._only_workspace_profile(root)
        return await self.hold(profile, report)

    async def enrolled(
        self, enroll: Callable[[Callable[[str], None]], Profile], report: Callable[[str], None]
    ) -> Profile:
        """Run ``enroll`` in a worker; cancelling the await stops it at its next step."""
        cancelled = threading.Event()

        def step(message: str) -> None:
            if cancelled.is_set():
                raise UsageError("Connect was cancelled.")
            report(message)

        try:
            return await run_blocking(lambda: enroll(step))
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def hold(self, profile: Profile, report: Callable[[str], None]) -> ProfileStatus:
        """Hold ``profile`` live (replacing any earlier hold of it) and start its sync."""
        previous = self.live.pop(profile.name, None)
        if previous is not None:
            await run_blocking(previous.close)
        live = LiveProfile(profile, self.notifier, self.settings)
        self.live[profile.name] = live
        report(f"connecting to {profile.host}:{profile.port} and starting the sync")
        try:
            await run_blocking(live.open)
        except ColabLinkError:
            self.live.pop(profile.name, None)
            await run_blocking(live.close)
            raise
        log.info("Connected profile %s (%s:%d)", profile.name, profile.host, profile.port)
        return live.status()

    def _enroll(
        self,
        text: str,
        name: str | None,
        params: ConnectParams,
        root: Path,
        step: Callable[[str], None],
    ) -> Profile:
        from colablink.enroll.enrollment import enroll
        from colablink.local.profiles import DEFAULT_PROFILE

        info = parse_connection_info(text)
        return enroll(
            info,
            profile=name or DEFAULT_PROFILE,
            remote_dir=params.get("remoteDir"),
            local_dir=params.get("localDir"),
            project_root=root,
            ssh_config=self.settings.ssh_config,
            warn=log.warning,
            step=step,
        )

    def _only_workspace_profile(self, root: Path) -> Profile:
        profiles = self.workspace_profiles(root)
        if not profiles:
            raise UsageError(
                "This workspace has no ColabLink profile yet; connect with the connection info "
                "your runtime printed."
            )
        if len(profiles) > 1:
            names = ", ".join(p.name for p in profiles)
            raise UsageError(f"This workspace has several profiles ({names}); choose one.")
        return profiles[0]

    async def held(self, name: str) -> LiveProfile:
        """The live profile ``name``, connecting it first if it exists but is not held yet."""
        opening = self._opening.get(name)
        if opening is not None:
            # Another request is connecting it right now; share that attempt.
            return await asyncio.shield(opening)
        live = self.live.get(name)
        if live is not None:
            return live
        profile = self.store.load(name)
        live = LiveProfile(profile, self.notifier, self.settings)
        task = asyncio.ensure_future(self._open(live))
        self._opening[name] = task
        return await asyncio.shield(task)

    async def _open(self, live: LiveProfile) -> LiveProfile:
        try:
            await run_blocking(live.open)
        except BaseException:
            await run_blocking(live.close)
            raise
        finally:
            self._opening.pop(live.name, None)
        self.live[live.name] = live
        return live

    async def disconnect(self, name: str, *, forget: bool) -> None:
        live = self.live.pop(name, None)
        if live is not None:
            await run_blocking(live.close)
        if forget:
            profile = live.profile if live is not None else self.store.load(name)
            from colablink.enroll.enrollment import forget as forget_profile

            await run_blocking(lambda: forget_profile(profile))
        elif live is None and not self.store.exists(name):
            raise UnknownProfile(f"There is no profile named {name!r}.")

    async def status(self) -> StatusResult:
        held = list(self.live.values())
        if held:
            await asyncio.gather(*(run_blocking(live.refresh) for live in held))
        statuses = [live.status() for live in held]
        for profile in self.workspace_profiles():
            if profile.name not in self.live:
                statuses.append(profile_status(profile))
        statuses.sort(key=lambda s: s["profile"])
        return {"profiles": statuses}

    def close_all(self) -> list[LiveProfile]:
        """Forget every live profile and hand them back for closing."""
        held = list(self.live.values())
        self.live.clear()
        return held
