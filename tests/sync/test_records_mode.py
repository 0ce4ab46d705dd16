"""Sync records are private (0600) whatever the umask, like every other local file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from colablink.sync.records import Records
from colablink.sync.scan import Meta


def test_records_are_written_0600_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        records = Records(tmp_path / "state" / "sync.json", key="k")
        records.placed["secret/project/path.py"] = Meta("f", 1, 2, 0o644)
        records.mark()
        records.save(force=True)
    finally:
        os.umask(old)
    path = tmp_path / "state" / "sync.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Records(path, key="k").placed["secret/project/path.py"] == Meta("f", 1, 2, 0o644)
