"""Where a profile's holders listen: unix sockets per profile in the private runtime dir.

The ``watch`` daemon serves every request on its socket; an editor window's helper that holds the
connection itself serves only ``proxy`` requests, on its own socket, so it is never mistaken for a
daemon.
"""

from __future__ import annotations

from pathlib import Path

from colablink.local import paths


def socket_path(profile_name: str) -> Path:
    return paths.runtime_dir() / f"agent-{profile_name}.sock"


def window_socket_path(profile_name: str) -> Path:
    return paths.runtime_dir() / f"window-{profile_name}.sock"
