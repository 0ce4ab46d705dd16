"""``colablink init --colab``: a profile whose connection runs through Colab's official channel.

There is no connection info: the session comes from the client's own state (or ``colab new``),
the login is by the profile's ed25519 key, which the client sends in the channel's header, and the
host key is pinned on this first connect. That is sound because the channel is TLS-authenticated
to Google and the login is by our key; from then on a changed key is refused like any pinned key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from colablink.enroll import colab, colab_account, enrollment
from colablink.errors import Unreachable, UsageError
from colablink.local import paths, sshconfig
from colablink.local.profiles import Profile, ProfileStore, check_profile_name
from colablink.ssh.session import Session, SshTarget
from colablink.ssh.transport import ProxyCommand

COLAB_ROOT = "/content"
COLAB_USER = "root"
HOST = "colab-runtime"
NEW_SESSION = "colablink"


def session_names(env: Mapping[str, str] | None = None) -> list[str]:
    """The sessions the client knows locally (its state file; no call to Google)."""
    return [session.name for session in colab_account.sessions(env)]


def choose_session(cli: Path, requested: str | None, accelerator: tuple[str, str] | None) -> str:
    """The named session, the only one, or a new one made by ``colab new`` (its output shown)."""
    known = session_names()
    if requested and requested in known:
        return requested
    if not requested and len(known) == 1:
        return known[0]
    if not requested and known:
        raise UsageError(
            f"There are several Colab sessions ({', '.join(known)}); name one: "
            "`colablink init --colab SESSION`."
        )
    name = requested or NEW_SESSION
    colab_account.create(cli, name, accelerator, show_output=True)
    return name


def enroll(
    cli: Path,
    session_name: str,
    *,
    profile: str,
    project_root: Path,
    username: str = COLAB_USER,
    remote_root: str = COLAB_ROOT,
    remote_dir: str | None = None,
    local_dir: str | None = None,
    ssh_config: Path | None = None,
    warn: enrollment.Warn = enrollment._ignore,
    step: Callable[[str], None] = lambda _: None,
) -> Profile:
    """Do the whole ``init --colab`` for ``profile``; on failure leave everything as it was.

    ``step`` hears each step; raising from it stops the enrolment, which then undoes itself.
    """
    check_profile_name(profile)
    colab.check_logged_in()
    store = ProfileStore()
    previous = store.load(profile) if store.exists(profile) else None
    project_root = project_root.expanduser().absolute()
    remote_dir = enrollment._check_remote_dir(
        remote_dir or (previous.remote_dir if previous else enrollment.random_remote_dir())
    )
    local_dir = enrollment._check_local_dir(local_dir or remote_dir, project_root)
    config_path = paths.ssh_config_path(ssh_config)
    sshconfig.names(config_path)

    key_path = paths.keys_dir() / profile
    undo = enrollment._Undo()
    try:
        enrollment._ensure_key(key_path, profile, undo)
        argv = colab.proxy_argv(cli, session_name, key_path)
        target = SshTarget(HOST, 22, username, (), key_path, transport=ProxyCommand(argv))
        step(f"reaching Colab session {session_name} and pinning its host key")
        try:
            session = Session.connect(target, timeout=60, learn_host_key=True)
        except Unreachable as exc:
            raise colab.explain(exc) from None
        try:
            candidate = Profile(
                name=profile,
                host=HOST,
                port=22,
                username=username,
                remote_root=remote_root,
                remote_dir=remote_dir,
                local_dir=local_dir,
                project_root=project_root,
                key_path=key_path,
                host_keys=[session.host_key],
                ssh_config=config_path,
                proxy_command=argv,
            )
            step("creating the connection directory")
            enrollment._make_remote_dir(session, candidate.remote_conn_dir, undo)
        finally:
            session.close()
        step("writing the ssh config")
        enrollment._make_local_dir(candidate.local_conn_dir, undo)
        enrollment._write_local(candidate, previous, store, undo, warn)
    except BaseException:
        undo.run()
        raise
    return candidate
