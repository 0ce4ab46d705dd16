"""The Jupyter server's state as the status probe reads it: one shell line, no Python started.

It prints ``server.json`` only while the server holds its lock (``flock -n`` fails), so a state
left by a server that died is not reported; the token it contains is dropped here, as status
output is shown and pasted around.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

STATE_FOLDER = ".colablink/jupyter"


@dataclass(frozen=True)
class ServerState:
    port: int
    run_id: str | None


def probe_command(remote_root: str) -> str:
    folder = shlex.quote(f"{remote_root.rstrip('/')}/{STATE_FOLDER}")
    return (
        f'd={folder}; if [ -f "$d/server.json" ] && command -v flock >/dev/null && '
        f'! flock -n "$d/serve.lock" true 2>/dev/null; then head -c 4096 "$d/server.json"; fi'
    )


def parse(output: str) -> ServerState | None:
    try:
        data = json.loads(output.strip() or "null")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    port, run_id = data.get("port"), data.get("run_id")
    if not (isinstance(port, int) and 0 < port < 65536):
        return None
    ok_id = isinstance(run_id, str) and run_id.isalnum() and len(run_id) <= 32
    return ServerState(port, run_id if ok_id else None)
