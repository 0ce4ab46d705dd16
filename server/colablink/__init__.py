"""ColabLink: code locally, run on a Colab (or any SSH-reachable) GPU.

``LocalClient`` and ``ColabRuntime`` load on first use, so the CLI's warm path (a command relayed
through a running agent) never pays for paramiko or pyngrok.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["ColabRuntime", "LocalClient", "__version__"]

if TYPE_CHECKING:
    from colablink_runtime import ColabRuntime

    from .client import LocalClient


def __getattr__(name: str) -> Any:
    if name == "ColabRuntime":
        from colablink_runtime import ColabRuntime

        return ColabRuntime
    if name == "LocalClient":
        from .client import LocalClient

        return LocalClient
    raise AttributeError(f"module 'colablink' has no attribute {name!r}")
