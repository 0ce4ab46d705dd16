"""Test bed helpers: real runtimes, ports, processes and accounts (imported as ``support``)."""

from .accounts import create_account, remove_account, unique_name
from .keys import make_client_key
from .runtimes import RuntimeHandle, start_root_runtime, start_user_runtime
from .system import (
    foreign_pythonpath,
    free_port,
    pids_of_user,
    public_tempdir,
    run_as,
    spawn_as,
    user_env,
    wait_for,
)

__all__ = [
    "RuntimeHandle",
    "create_account",
    "foreign_pythonpath",
    "free_port",
    "make_client_key",
    "pids_of_user",
    "public_tempdir",
    "remove_account",
    "run_as",
    "spawn_as",
    "start_root_runtime",
    "start_user_runtime",
    "unique_name",
    "user_env",
    "wait_for",
]
