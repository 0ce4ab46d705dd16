"""The dedicated login account: created once, its password set through chpasswd's stdin."""

from __future__ import annotations

import pwd
import re
import subprocess

from colablink_runtime.errors import RuntimeSetupError
from colablink_runtime.tools import tool

_USERNAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def check_username(username: str) -> None:
    if not _USERNAME.match(username) or username == "root":
        raise RuntimeSetupError(
            f"{username!r} cannot be the login user; use lower-case letters, digits, _ or -, "
            "starting with a letter, and not root."
        )


def exists(username: str) -> bool:
    try:
        pwd.getpwnam(username)
    except KeyError:
        return False
    return True


def _run(argv: list[str], what: str, stdin: bytes | None = None) -> None:
    try:
        result = subprocess.run(argv, input=stdin, capture_output=True, check=False)
    except OSError as exc:
        reason = f"{argv[0]} is missing ({exc.strerror})"
        raise RuntimeSetupError(f"Could not {what}: {reason}.") from None
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        reason = detail[-1] if detail else f"exit status {result.returncode}"
        raise RuntimeSetupError(f"Could not {what}: {reason}.")


def ensure_user(username: str) -> bool:
    """Create ``username`` (home, bash, own group) unless it exists; True when it was created."""
    check_username(username)
    if exists(username):
        return False
    _run(
        [tool("useradd"), "--create-home", "--shell", "/bin/bash", "--user-group", username],
        f"create the user {username}",
    )
    return True


def set_password(username: str, password: str) -> None:
    # chpasswd reads "name:password" lines: a newline would start a second entry.
    if not password or "\n" in password or "\r" in password or "\0" in password:
        raise RuntimeSetupError("The password must be a non-empty single line.")
    line = f"{username}:{password}\n".encode()
    _run([tool("chpasswd")], f"set the password of {username}", stdin=line)


def delete_user(username: str) -> None:
    if exists(username):
        _run([tool("userdel"), "--remove", username], f"remove the user {username}")
