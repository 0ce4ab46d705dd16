"""The runtime side of ColabLink: what runs on the Colab VM (or any Linux box) you connect to.

Standard library and pyngrok only. ``agent.py`` in this package is sent as source to the runtime
by the local side and must stay standard-library only.
"""

from __future__ import annotations

__all__ = ["ColabRuntime"]

# Imported by the local CLI's warm path too, where typing's import time counts.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .runtime import ColabRuntime


def __getattr__(name: str) -> Any:
    if name == "ColabRuntime":
        from .runtime import ColabRuntime

        return ColabRuntime
    raise AttributeError(f"module 'colablink_runtime' has no attribute {name!r}")
