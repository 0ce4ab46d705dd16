"""Where a profile's daemon listens: one unix socket per profile in the private runtime dir."""

from __future__ import annotations

from pathlib import Path

from colablink.local import paths


def socket_path(profile_name: str) -> Path:
    return paths.runtime_dir() / f"agent-{profile_name}.sock"
