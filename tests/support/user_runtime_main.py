"""Runs a user-mode ColabRuntime as an unprivileged account, driven line by line over stdin.

Started by ``support.runtimes.start_user_runtime`` with /usr/bin/python3 (the account cannot
reach the venv). The first stdout line answers the initial setup; then each stdin line
"setup", "teardown" or "heartbeat" gets one JSON line back. EOF tears down and exits.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from colablink_runtime.errors import PortInUse, RuntimeSetupError
from colablink_runtime.runtime import ColabRuntime


def reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def setup(runtime: ColabRuntime) -> bool:
    try:
        reply({"info": runtime.setup()})
    except PortInUse as exc:
        reply({"error": exc.message, "port_in_use": True})
        return False
    except RuntimeSetupError as exc:
        reply({"error": exc.message, "port_in_use": False})
        return False
    return True


def main() -> int:
    try:
        runtime = ColabRuntime(**json.loads(sys.argv[1]))
    except RuntimeSetupError as exc:
        reply({"error": exc.message, "port_in_use": False})
        return 1
    if not setup(runtime):
        runtime.teardown()
        return 1
    for line in sys.stdin:
        command = line.strip()
        if command == "setup":
            setup(runtime)
        elif command == "teardown":
            runtime.teardown()
            reply({"ok": True})
        elif command == "heartbeat":
            reply({"heartbeat": runtime.heartbeat(), "sessions": runtime.session_count()})
    runtime.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
