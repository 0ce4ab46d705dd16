"""Connect's Colab option: the client's sessions, a new runtime, compute units, Stop Runtime.

Each request runs Google's ``colab`` client the way ``colablink init --colab`` does; ``colab new``
prints to the log here, since the window has no terminal for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from colablink.enroll import colab, colab_account, colab_enroll
from colablink.errors import UsageError
from colablink.helper.blocking import run_blocking
from colablink.helper.protocol import (
    ColabSessionsParams,
    ColabSessionsResult,
    ColabUsageParams,
    ColabUsageResult,
    ConnectColabParams,
    Method,
    ProfileStatus,
    StopRuntimeParams,
    StopRuntimeResult,
)
from colablink.helper.server import Helper, register_request
from colablink.local.profiles import DEFAULT_PROFILE, Profile

log = logging.getLogger(__name__)


def register(helper: Helper) -> None:
    server, hub = helper.server, helper.hub

    async def colab_sessions(params: ColabSessionsParams) -> ColabSessionsResult:
        def read() -> list[colab_account.ColabSession]:
            # Refused here, before a session is picked: how to install, or how to sign in.
            colab.find_cli(params.get("colabCli"))
            colab.check_logged_in()
            return colab_account.sessions()

        found = await run_blocking(read)
        return {"sessions": [{"session": s.name, "accelerator": s.accelerator} for s in found]}

    async def connect_colab(params: ConnectColabParams) -> ProfileStatus:
        root = Path(params["workspaceRoot"])
        if hub.workspace_root is None:
            hub.workspace_root = root
        token = params.get("workDoneToken")
        report = helper.progress_reporter(token)

        def step(message: str) -> None:
            log.info("Connect: %s", message)
            report(message)

        def enroll(step: Callable[[str], None]) -> Profile:
            return _enroll_colab(params, root, helper.settings.ssh_config, step)

        with helper.progress_span(token, "ColabLink: connecting to Colab"):
            profile = await hub.enrolled(enroll, step)
            status = await hub.hold(profile, step)
        helper.refresh_code_lenses()
        return status

    async def colab_usage(params: ColabUsageParams) -> ColabUsageResult | None:
        cli, _ = _colab_session(hub.store.load(params["profile"]))
        found = await run_blocking(lambda: colab_account.usage(cli))
        return (
            None
            if found is None
            else {"balance": found.balance, "ratePerHour": found.rate_per_hour}
        )

    async def stop_runtime(params: StopRuntimeParams) -> StopRuntimeResult:
        name = params["profile"]
        cli, session = _colab_session(hub.store.load(name))
        # What the runtime wrote is pulled first: a stopped runtime's disk is gone.
        live = await hub.held(name)
        _, pulled = await run_blocking(lambda: live.sync_now(lambda _: None))
        helper.ptys.close_profile(name)
        await hub.disconnect(name, forget=False)
        await run_blocking(lambda: colab_account.stop(cli, session))
        log.info("Stopped Colab session %s of profile %s", session, name)
        return {"session": session, "pulled": pulled}

    register_request(server, Method.COLAB_SESSIONS, ColabSessionsParams, colab_sessions)
    register_request(server, Method.CONNECT_COLAB, ConnectColabParams, connect_colab)
    register_request(server, Method.COLAB_USAGE, ColabUsageParams, colab_usage)
    register_request(server, Method.STOP_RUNTIME, StopRuntimeParams, stop_runtime)


def _colab_session(profile: Profile) -> tuple[Path, str]:
    found = colab_account.session_of(profile.proxy_command)
    if found is None:
        raise UsageError(f"Profile {profile.name!r} does not run on a Colab session.")
    return found


def _enroll_colab(
    params: ConnectColabParams, root: Path, ssh_config: Path | None, step: Callable[[str], None]
) -> Profile:
    cli = colab.find_cli(params.get("colabCli"))
    colab.check_logged_in()
    session = params.get("session")
    if params.get("new"):
        session = session or _free_name(colab_enroll.session_names())
        accelerator = params.get("accelerator")
        flag = None if accelerator is None else colab_account.accelerator_flag(accelerator)
        step(f"starting a {accelerator or 'CPU'} runtime ({session}); this can take minutes")
        said = colab_account.create(cli, session, flag, show_output=False)
        log.info("colab new -s %s: %s", session, said.strip())
    elif session is None or session not in colab_enroll.session_names():
        raise UsageError(f"There is no Colab session named {session!r}; pick one or create one.")
    return colab_enroll.enroll(
        cli,
        session,
        profile=params.get("profile", DEFAULT_PROFILE),
        project_root=root,
        username=params.get("username", colab_enroll.COLAB_USER),
        remote_root=params.get("remoteRoot", colab_enroll.COLAB_ROOT),
        remote_dir=params.get("remoteDir"),
        local_dir=params.get("localDir"),
        ssh_config=ssh_config,
        warn=log.warning,
        step=step,
    )


def _free_name(taken: list[str]) -> str:
    name, n = colab_enroll.NEW_SESSION, 1
    while name in taken:
        n += 1
        name = f"{colab_enroll.NEW_SESSION}-{n}"
    return name
