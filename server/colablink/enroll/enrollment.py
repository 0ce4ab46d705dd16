"""``init`` and ``forget``: turn a runtime's connection info into a key-based, pinned profile.

Enrolling logs in once (with the password, or a key the runtime already authorizes), checks the
host key against the pinned ones before sending anything, installs a per-profile ed25519 key, and
then writes the profile, ColabLink's known_hosts line and the ssh config block. Every step is
undone if a later one fails, so a failed ``init`` leaves the previous state exactly as it was.
The password is only ever held in memory.
"""

from __future__ import annotations

import contextlib
import posixpath
import secrets
import shutil
import string
import sys
from collections.abc import Callable
from pathlib import Path

from colablink.connection import target_of
from colablink.enroll.connection_info import ConnectionInfo
from colablink.errors import AuthFailed, BadConnectionInfo, ColabLinkError, RemoteError, UsageError
from colablink.local import keys, knownhosts, paths, sshconfig
from colablink.local.profiles import Profile, ProfileStore, check_profile_name
from colablink.ssh.session import Session, SshTarget
from colablink.sync.spec import spec_for

Warn = Callable[[str], None]

# Appends our key unless already present, with the modes sshd's StrictModes insists on, making
# sure a last line without a newline does not get glued to ours.
_INSTALL_KEY = r"""
set -e
umask 077
mkdir -p "$HOME/.ssh"
chmod 700 "$HOME/.ssh"
f="$HOME/.ssh/authorized_keys"
touch "$f"
chmod 600 "$f"
if grep -qF -- "$2" "$f"; then echo present; exit 0; fi
if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then echo >> "$f"; fi
printf '%s\n' "$1" >> "$f"
echo added
"""

_REMOVE_KEY = r"""
set -e
f="$HOME/.ssh/authorized_keys"
[ -f "$f" ] || exit 0
grep -qF -- "$1" "$f" || exit 0
t="$f.colablink.$$"
(umask 077; grep -vF -- "$1" "$f" > "$t" || true)
chmod --reference="$f" "$t" 2>/dev/null || chmod 600 "$t"
mv -f -- "$t" "$f"
"""

_MAKE_DIR = r"""
set -e
if [ -d "$1" ]; then echo present; exit 0; fi
mkdir -p -- "$1"
echo created
"""


def _ignore(_: str) -> None:
    return None


def random_remote_dir() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "connection_" + "".join(secrets.choice(alphabet) for _ in range(6))


def _check_remote_dir(remote_dir: str) -> str:
    cleaned = posixpath.normpath(remote_dir)
    if (
        not remote_dir
        or cleaned.startswith(("/", ".."))
        or cleaned == "."
        or any(c in remote_dir for c in "\0\n\r")
    ):
        raise UsageError(
            f"--remote-dir {remote_dir!r} must be a relative path inside the runtime's remote root."
        )
    return cleaned


def _check_local_dir(local_dir: str, project_root: Path) -> str:
    if not local_dir or any(c in local_dir for c in "\0\n\r"):
        raise UsageError(f"--local-dir {local_dir!r} is not a usable directory name.")
    path = (project_root / Path(local_dir).expanduser()).absolute()
    try:
        return str(path.relative_to(project_root))
    except ValueError:
        return str(path)


class _Undo:
    """Steps to take back, newest first, if enrolling fails part-way."""

    def __init__(self) -> None:
        self._steps: list[Callable[[], None]] = []

    def add(self, step: Callable[[], None]) -> None:
        self._steps.append(step)

    def run(self) -> None:
        for step in reversed(self._steps):
            # Best effort: one failing undo step must not keep the others from running.
            with contextlib.suppress(Exception):
                step()


def _restore_file(path: Path) -> Callable[[], None]:
    """An undo step putting ``path`` back as it is now (or absent)."""
    from colablink.local.localfiles import remove_if_present, write_atomic

    try:
        before: bytes | None = path.read_bytes()
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        before, mode = None, 0o600

    def restore() -> None:
        if before is None:
            remove_if_present(path)
        else:
            write_atomic(path, before, mode=mode)

    return restore


def _shared_root_warnings(store: ProfileStore, profile: Profile) -> list[str]:
    found = []
    for name in store.names():
        if name == profile.name:
            continue
        try:
            other = store.load(name)
        except ColabLinkError:
            continue
        same_runtime = (other.host, other.port) == (profile.host, profile.port) or bool(
            set(other.host_keys) & set(profile.host_keys)
        )
        if (
            same_runtime
            and other.remote_root == profile.remote_root
            and other.project_root != profile.project_root
        ):
            found.append(
                f"profile {name!r} (project {other.project_root}) also uses {profile.remote_root} "
                "on this runtime; give each project its own remote root (or a subdirectory) so "
                "their sources do not overwrite each other"
            )
    return found


def _run_checked(session: Session, argv: list[str], what: str) -> str:
    result = session.run(argv)
    if result.exit_code != 0:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = f": {detail[-1]}" if detail else ""
        raise RemoteError(f"The runtime could not {what}{reason}.")
    return result.stdout.decode("utf-8", "replace").strip()


def enroll(
    info: ConnectionInfo,
    *,
    profile: str,
    remote_dir: str | None = None,
    local_dir: str | None = None,
    project_root: Path,
    ssh_config: Path | None = None,
    identity: Path | None = None,
    warn: Warn = _ignore,
    step: Warn = _ignore,
) -> Profile:
    """Do the whole ``init`` for ``profile``; on failure leave everything as it was.

    ``step`` hears each step's name before it starts; raising from it stops the enrolment and
    undoes what was done, which is how an editor's Cancel works.
    """
    check_profile_name(profile)
    store = ProfileStore()
    previous = store.load(profile) if store.exists(profile) else None
    project_root = project_root.expanduser().absolute()
    if not info.host_keys:
        raise BadConnectionInfo(
            "The connection info lists no host_keys, so the runtime cannot be verified; "
            "copy the full connection info the runtime printed."
        )
    if remote_dir is None and previous is not None:
        remote_dir = previous.remote_dir
    remote_dir = _check_remote_dir(remote_dir or random_remote_dir())
    if local_dir is None:
        same_project = previous is not None and previous.project_root == project_root
        local_dir = previous.local_dir if previous is not None and same_project else remote_dir
    local_dir = _check_local_dir(local_dir, project_root)
    config_path = paths.ssh_config_path(ssh_config)
    # Damaged markers are found before the runtime is touched.
    sshconfig.names(config_path)

    key_path = paths.keys_dir() / profile
    login = _login_target(info, key_path, identity)
    candidate = Profile(
        name=profile,
        host=info.host,
        port=info.port,
        username=info.username,
        remote_root=info.remote_root,
        remote_dir=remote_dir,
        local_dir=local_dir,
        project_root=project_root,
        key_path=key_path,
        host_keys=list(info.host_keys),
        ssh_config=config_path,
    )
    undo = _Undo()
    step(f"reaching {info.host}:{info.port} and checking its host key")
    # The first session stays open until the end: undoing the remote steps needs it.
    session = _first_login(login)
    try:
        step("installing this machine's key")
        public = _ensure_key(key_path, profile, undo)
        _authorize(session, public, undo)
        _make_remote_dir(session, candidate.remote_conn_dir, undo)
        step("logging in with the new key")
        _check_key_login(info, key_path)
        step("writing the ssh config")
        _make_local_dir(candidate.local_conn_dir, undo)
        _write_local(candidate, previous, store, undo, warn)
    except BaseException:
        undo.run()
        raise
    finally:
        session.close()
    for message in _shared_root_warnings(store, candidate):
        warn(message)
    return candidate


def _first_login(target: SshTarget) -> Session:
    who = f"{target.username}@{target.host}:{target.port}"
    try:
        return Session.connect(target)
    except AuthFailed:
        if target.password is not None:
            raise AuthFailed(
                f"The runtime refused the password for {who}; copy its connection info again "
                "(a restarted runtime has a new password)."
            ) from None
        raise AuthFailed(f"{who} refused the key {target.key_path}.") from None


def _check_key_login(info: ConnectionInfo, key_path: Path) -> None:
    """Prove the new key alone gets in, before anything local points at it."""
    target = SshTarget(info.host, info.port, info.username, info.host_keys, key_path=key_path)
    try:
        Session.connect(target).close()
    except AuthFailed:
        raise RemoteError(
            f"The runtime does not accept the key just installed for {info.username}; check "
            "that its home and ~/.ssh are not writable by others (sshd's StrictModes)."
        ) from None


def _login_target(info: ConnectionInfo, key_path: Path, identity: Path | None) -> SshTarget:
    if identity is not None:
        identity = identity.expanduser().absolute()
        if not identity.is_file():
            raise UsageError(f"--identity {identity} does not exist.")
        keys.public_line(identity)  # an unreadable or encrypted key fails here, in a sentence
        key: Path | None = identity
    elif info.password is not None:
        key = None
    elif key_path.is_file():
        key = key_path
    else:
        raise UsageError(
            "The connection info has no password (a key-only runtime); "
            "add --identity KEY with a key that runtime authorizes."
        )
    return SshTarget(
        info.host,
        info.port,
        info.username,
        info.host_keys,
        key_path=key,
        password=info.password if key is None else None,
    )


def _ensure_key(key_path: Path, profile: str, undo: _Undo) -> str:
    """The profile's public key line, creating the key if it does not exist yet."""
    if key_path.is_file():
        return keys.public_line(key_path) + f" colablink-{profile}"
    paths.ensure_private_dir(paths.config_dir())
    paths.ensure_private_dir(key_path.parent)
    undo.add(lambda: keys.delete_keypair(key_path))
    return keys.generate_keypair(key_path, f"colablink-{profile}")


def _authorize(session: Session, public: str, undo: _Undo) -> None:
    blob = keys.key_blob(public).split()[1]
    state = _run_checked(session, ["sh", "-c", _INSTALL_KEY, "sh", public, blob], "install the key")
    if state == "added":
        undo.add(lambda: _unauthorize(session, blob))


def _unauthorize(session: Session, blob: str) -> None:
    _run_checked(session, ["sh", "-c", _REMOVE_KEY, "sh", blob], "remove the key")


def _make_remote_dir(session: Session, path: str, undo: _Undo) -> None:
    state = _run_checked(session, ["sh", "-c", _MAKE_DIR, "sh", path], f"create {path}")
    if state == "created":
        undo.add(lambda: _remove_empty_remote_dir(session, path))


def _remove_empty_remote_dir(session: Session, path: str) -> None:
    session.run(["rmdir", "--", path])


def _make_local_dir(path: Path, undo: _Undo) -> None:
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ColabLinkError(f"Cannot create the local directory {path}: {exc.strerror}.") from None
    for created in missing:
        undo.add(created.rmdir)


def _write_local(
    profile: Profile, previous: Profile | None, store: ProfileStore, undo: _Undo, warn: Warn
) -> None:
    known_hosts = paths.known_hosts_path()
    undo.add(_restore_file(known_hosts))
    knownhosts.set_keys(profile.ssh_alias, profile.host_keys, known_hosts)

    config = sshconfig.resolved_path(profile.ssh_config or paths.ssh_config_path())
    backup = config.with_name(config.name + ".bak")
    undo.add(_restore_file(backup))
    undo.add(_restore_file(config))
    if previous is not None and previous.ssh_config not in (None, profile.ssh_config):
        # The profile moves to another ssh config: its old block must not linger there.
        old = previous.ssh_config
        assert old is not None
        undo.add(_restore_file(old))
        sshconfig.remove_block(profile.name, old)
    entry = sshconfig.HostEntry(
        name=profile.name,
        host=profile.host,
        port=profile.port,
        username=profile.username,
        identity_file=profile.key_path,
        known_hosts=known_hosts,
        proxy_command=_ssh_proxy_command(profile),
    )
    for message in sshconfig.write_block(entry, profile.ssh_config):
        warn(message)

    undo.add(_restore_file(store.path_of(profile.name)))
    store.save(profile)


def _ssh_proxy_command(profile: Profile) -> tuple[str, ...] | None:
    """What OpenSSH runs for a proxied profile: ``colablink proxy``, which rides the daemon's
    held connection when one is up (the transport may take one connection at a time) and is
    the transport otherwise. It finds this profile and its daemon wherever init found them."""
    if profile.proxy_command is None:
        return None
    env = shutil.which("env") or "/usr/bin/env"
    return (
        env,
        f"COLABLINK_CONFIG_DIR={paths.config_dir()}",
        f"COLABLINK_RUNTIME_DIR={paths.runtime_dir()}",
        sys.executable,
        "-m",
        "colablink",
        "proxy",
        profile.name,
    )


def forget(profile: Profile, *, warn: Warn = _ignore) -> None:
    """Remove every trace of ``profile``: remote authorization (if reachable), then local files
    (its key, ssh config block, known_hosts lines, sync records and the profile itself).

    Only a key ColabLink made (under its keys dir) is deauthorized and deleted; a key the user
    brought stays where it is and stays authorized.
    """
    owned = profile.key_path.parent == paths.keys_dir()
    if owned and profile.key_path.is_file():
        try:
            blob = keys.public_line(profile.key_path).split()[1]
            with Session.connect(target_of(profile), timeout=10.0) as session:
                _unauthorize(session, blob)
        except ColabLinkError as exc:
            warn(f"could not remove the key from the runtime ({exc.message})")
    sshconfig.remove_block(profile.name, profile.ssh_config or paths.ssh_config_path())
    knownhosts.remove(profile.ssh_alias)
    if owned:
        keys.delete_keypair(profile.key_path)
    # What sync remembered about this profile's files goes with it.
    sync_records = spec_for(profile).state_path
    if sync_records is not None:
        sync_records.unlink(missing_ok=True)
    ProfileStore().delete(profile.name)
