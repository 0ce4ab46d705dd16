"""The connection info as the runtime prints it: its version, and its compact single-token form.

The token is easier to copy from a notebook than JSON: ``clk1.`` followed by the URL-safe base64
of the compact JSON, without padding. The local side validates both forms in
``colablink.enroll.connection_info``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

TOKEN_PREFIX = "clk1."  # noqa: S105 (a format marker, not a secret)
INFO_VERSION = 1


def encode_token(info: dict[str, Any]) -> str:
    raw = json.dumps(info, separators=(",", ":"), sort_keys=True).encode()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> Any:
    """Return the JSON value inside a token; raises ValueError on anything malformed."""
    if not token.startswith(TOKEN_PREFIX):
        raise ValueError("missing prefix")
    body = token[len(TOKEN_PREFIX) :]
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded.encode("ascii"))
        return json.loads(raw.decode("utf-8"))
    except (UnicodeError, ValueError) as exc:
        raise ValueError(str(exc)) from exc
