"""The runtime side of ColabLink: what runs on the Colab VM (or any Linux box) you connect to.

Standard library and pyngrok only. ``sync_agent.py`` (the sync agent), ``supervisor_front.py`` and
``supervisor.py`` (the run supervisor) are sent as source to the runtime by the local side and stay
standard-library only.
"""

from __future__ import annotations

__all__ = ["ColabRuntime"]

# Imported by the local CLI's warm path too, where typing's import time counts.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from colablink_runtime.runtime import ColabRuntime


def __getattr__(name: str) -> Any:
    if name == "ColabRuntime":
        from colablink_runtime.runtime import ColabRuntime

        return ColabRuntime
    raise AttributeError(f"module 'colablink_runtime' has no attribute {name!r}")
