"""A pygls converter that leaves custom-method params as the plain JSON the client sent.

pygls's default turns them into namedtuples (renaming keys that are not identifiers); the helper
validates plain dicts against ``colablink.protocol`` instead.
"""

from __future__ import annotations

from typing import Any

import cattrs
from lsprotocol.converters import get_converter
from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage


def _request(obj: dict[str, Any], cls: type[JsonRPCRequestMessage]) -> JsonRPCRequestMessage:
    return cls(id=obj["id"], method=obj["method"], jsonrpc=obj["jsonrpc"], params=obj.get("params"))


def _notification(obj: dict[str, Any], cls: type[JsonRPCNotification]) -> JsonRPCNotification:
    return cls(method=obj["method"], jsonrpc=obj["jsonrpc"], params=obj.get("params"))


def raw_params_converter() -> cattrs.Converter:
    converter = get_converter(cattrs.Converter())
    converter.register_structure_hook(JsonRPCRequestMessage, _request)
    converter.register_structure_hook(JsonRPCNotification, _notification)
    return converter
