"""Throwaway Unix accounts with unique names; every one created is removed again."""

from __future__ import annotations

import secrets
import subprocess

from colablink_runtime import accounts, procs

from .system import pids_of_user

# Accounts made during this test session, so the session's end can check and remove them.
CREATED: set[str] = set()


def unique_name(prefix: str) -> str:
    """A user name no earlier run used: ``prefix`` plus random hex, within 32 characters."""
    while True:
        name = f"{prefix}{secrets.token_hex(4)}"
        if not accounts.exists(name):
            CREATED.add(name)
            return name


def create_account(prefix: str = "cltu") -> str:
    """A home-directory account with no password that can still log in with a key."""
    name = unique_name(prefix)
    subprocess.run(
        ["useradd", "--create-home", "--shell", "/bin/bash", "--user-group", name], check=True
    )
    # useradd leaves the password field "!", and sshd refuses a locked account even for keys.
    subprocess.run(["usermod", "-p", "*", name], check=True)
    return name


def remove_account(name: str) -> None:
    """End every process of ``name``, then delete the account and its home."""
    for _ in range(5):
        if not procs.end_processes(pids_of_user(name)) and not pids_of_user(name):
            break
    if accounts.exists(name):
        subprocess.run(["userdel", "--remove", name], check=True, capture_output=True)
    CREATED.discard(name)
