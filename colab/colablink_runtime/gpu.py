"""The GPU the runtime offers, as nvidia-smi reports it."""

from __future__ import annotations

import shutil
import subprocess
from typing import TypedDict


class Gpu(TypedDict):
    name: str
    memory_mib: int | None


def detect_gpu(path: str | None = None) -> Gpu | None:
    """Name and memory of the first GPU, or None when there is no working nvidia-smi."""
    smi = shutil.which("nvidia-smi", path=path)
    if smi is None:
        return None
    try:
        result = subprocess.run(
            [smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        return None
    name, _, memory = lines[0].rpartition(",")
    if not name:
        return {"name": memory.strip(), "memory_mib": None}
    memory = memory.strip()
    return {"name": name.strip(), "memory_mib": int(memory) if memory.isdigit() else None}
