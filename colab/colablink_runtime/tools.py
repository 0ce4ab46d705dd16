"""Finding system tools when the notebook's PATH lacks the sbin directories."""

from __future__ import annotations

import os
import shutil

_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def find_tool(name: str) -> str | None:
    """``name`` on PATH first (so it can be overridden), then in the usual system directories."""
    return shutil.which(name, path=f"{os.environ.get('PATH', '')}:{_SYSTEM_PATH}")


def tool(name: str) -> str:
    """Like ``find_tool``, falling back to the bare name so the error names what is missing."""
    return find_tool(name) or name
