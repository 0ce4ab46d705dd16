"""Turns what a handler raised into the JSON-RPC error the extension sees.

User-facing failures keep the CLI's sentence and their project code; anything else is a bug, so
its traceback goes to the log and the reply carries one line.
"""

from __future__ import annotations

import logging

from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams

from colablink.errors import ColabLinkError
from colablink.helper.params import InvalidParams

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


def to_rpc_error(exc: Exception, method: str) -> JsonRpcException:
    if isinstance(exc, JsonRpcException):
        return exc
    if isinstance(exc, InvalidParams):
        return JsonRpcInvalidParams(f"Invalid params for {method}: {exc.message}")
    if isinstance(exc, ColabLinkError):
        return JsonRpcException(message=exc.message, code=exc.code)
    log.error("%s failed unexpectedly", method, exc_info=exc)
    return JsonRpcInternalError(f"{method} failed: {type(exc).__name__}: {exc}")
