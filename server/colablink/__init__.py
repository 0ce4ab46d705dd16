"""ColabLink: code locally, run on a Colab (or any SSH-reachable) GPU.

``LocalClient`` and ``ColabRuntime`` load on first use, so the CLI's warm path (a command relayed
through a running daemon) never pays for paramiko or pyngrok.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["ColabRuntime", "LocalClient", "__version__"]

# typing (and collections.abc) cost the CLI's warm path ~4 ms of imports; mypy still sees them.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from colablink_runtime import ColabRuntime

    from colablink.client import LocalClient


def __getattr__(name: str) -> Any:
    if name == "ColabRuntime":
        from colablink_runtime import ColabRuntime

        return ColabRuntime
    if name == "LocalClient":
        from colablink.client import LocalClient

        return LocalClient
    raise AttributeError(f"module 'colablink' has no attribute {name!r}")
