"""What the runtime has left: GPU memory and utilisation, RAM and disk, from one cheap probe.

The probe is one shell line (``df``, ``nvidia-smi`` when present, the first lines of
``/proc/meminfo``) run on the status channel; its output comes from the runtime and is parsed
defensively: anything that does not look like a number is unknown, never an error.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass
from typing import Any

SPLIT = "--colablink-status--"
_GPU_QUERY = "name,memory.total,memory.used,utilization.gpu"


@dataclass(frozen=True)
class Resources:
    gpu_memory_used_mib: int | None
    gpu_memory_total_mib: int | None
    gpu_utilization_pct: int | None
    ram_total_bytes: int | None
    ram_available_bytes: int | None
    disk_total_bytes: int | None
    disk_free_bytes: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ProbeResult:
    gpu_name: str | None
    resources: Resources


def probe_command(remote_root: str) -> str:
    root = shlex.quote(remote_root)
    return (
        f"df -Pk {root} 2>/dev/null | tail -n 1; echo {SPLIT}; "
        f"nvidia-smi --query-gpu={_GPU_QUERY} --format=csv,noheader,nounits 2>/dev/null || true;"
        f" echo {SPLIT}; head -n 3 /proc/meminfo 2>/dev/null"
    )


def _number(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 20 else None


def parse_probe(output: str) -> ProbeResult:
    disk_text, _, rest = output.partition(SPLIT)
    gpu_text, _, mem_text = rest.partition(SPLIT)
    disk = disk_text.split()
    disk_total = _number(disk[1]) if len(disk) >= 4 else None
    disk_free = _number(disk[3]) if len(disk) >= 4 else None
    gpu_name: str | None = None
    used = total = util = None
    for line in gpu_text.splitlines():
        parts = line.rsplit(",", 3)
        if len(parts) == 4 and parts[0].strip():
            gpu_name = parts[0].strip()[:100]
            total, used, util = (_number(p) for p in parts[1:])
            break
    meminfo: dict[str, int | None] = {}
    for line in mem_text.splitlines():
        key, _, value = line.partition(":")
        fields = value.split()
        if fields and fields[-1:] == ["kB"]:
            kib = _number(fields[0])
            meminfo[key.strip()] = None if kib is None else kib * 1024
    resources = Resources(
        gpu_memory_used_mib=used,
        gpu_memory_total_mib=total,
        gpu_utilization_pct=util if util is None or util <= 100 else None,
        ram_total_bytes=meminfo.get("MemTotal"),
        ram_available_bytes=meminfo.get("MemAvailable"),
        disk_total_bytes=None if disk_total is None else disk_total * 1024,
        disk_free_bytes=None if disk_free is None else disk_free * 1024,
    )
    return ProbeResult(gpu_name, resources)
