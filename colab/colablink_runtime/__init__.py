"""The runtime side of ColabLink: what runs on the Colab VM (or any Linux box) you connect to.

Standard library and pyngrok only. ``agent.py`` in this package is sent as source to the runtime
by the local side and must stay standard-library only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ColabRuntime"]

if TYPE_CHECKING:
    from .runtime import ColabRuntime


def __getattr__(name: str) -> Any:
    if name == "ColabRuntime":
        from .runtime import ColabRuntime

        return ColabRuntime
    raise AttributeError(f"module 'colablink_runtime' has no attribute {name!r}")
