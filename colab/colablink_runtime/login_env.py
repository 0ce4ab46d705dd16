"""The environment SSH sessions inherit from the runtime's own process.

On Colab the notebook kernel knows where CUDA lives (PATH, LD_LIBRARY_PATH, NVIDIA_*, CUDA_*);
sessions started by sshd do not, so ``nvidia-smi`` and torch's CUDA fail over SSH unless the
runtime hands these on.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

_NAMES = ("PATH", "LD_LIBRARY_PATH")
_PREFIXES = ("NVIDIA_", "CUDA_")
PROFILE_HOOK = '[ -f "$HOME/.colablink_env" ] && . "$HOME/.colablink_env"  # ColabLink runtime'


def session_environment(environ: Mapping[str, str]) -> dict[str, str]:
    chosen = {
        name: value
        for name, value in environ.items()
        if name in _NAMES or name.startswith(_PREFIXES)
    }
    # Values that cannot travel on one config line are left out rather than mangled.
    return {
        name: value
        for name, value in sorted(chosen.items())
        if name.replace("_", "").isalnum() and not any(c in value for c in "\n\r\0")
    }


def sshd_setenv_line(env: Mapping[str, str]) -> str:
    """One ``SetEnv`` line: sshd honours only the first SetEnv directive it reads."""
    if not env:
        return ""
    items = []
    for name, value in env.items():
        escaped = f"{name}={value}".replace("\\", "\\\\").replace('"', '\\"')
        items.append(f'"{escaped}"')
    return "SetEnv " + " ".join(items)


def profile_script(env: Mapping[str, str]) -> str:
    """Login shells reset PATH in /etc/profile; ~/.profile sources this afterwards."""
    lines = [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    header = "# Written by the ColabLink runtime: the notebook's environment.\n"
    return header + "\n".join(lines) + "\n"
