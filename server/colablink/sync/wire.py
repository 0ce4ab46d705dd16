"""Framing shared with the remote agent: ``>II`` lengths, a JSON header, a binary body.

The constants come from the agent's own source, so the two sides cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from colablink_runtime import sync_agent
from colablink_runtime.sync_agent import (
    FRAME_HEADER,
    INLINE_LIMIT,
    MAX_BODY,
    MAX_HEADER,
    PROTOCOL_VERSION,
    READ_CHUNK,
    TEMP_PREFIX,
)

__all__ = [
    "FRAME_HEADER",
    "INLINE_LIMIT",
    "MAX_BODY",
    "MAX_HEADER",
    "PROTOCOL_VERSION",
    "READ_CHUNK",
    "TEMP_PREFIX",
    "agent_source",
    "encode",
]


def agent_source() -> bytes:
    return Path(sync_agent.__file__).read_bytes()


def encode(header: dict[str, Any], body_len: int = 0) -> bytes:
    """The frame head (lengths + JSON); the body, if any, is sent right after it."""
    head = json.dumps(header, separators=(",", ":")).encode()
    return FRAME_HEADER.pack(len(head), body_len) + head
