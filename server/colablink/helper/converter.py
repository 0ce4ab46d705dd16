"""A pygls converter: custom-method params stay plain JSON, LSP params are typed strictly.

pygls's default turns them into namedtuples (renaming keys that are not identifiers); the helper
validates plain dicts against ``colablink.helper.protocol`` instead.
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


def _strict(kind: type[Any]) -> Any:
    """cattrs would coerce (``str(["x"])``, ``int("5")``); a wrong type is a wrong param."""

    def structure(value: Any, _: type[Any]) -> Any:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return structure


def raw_params_converter() -> cattrs.Converter:
    converter = get_converter(cattrs.Converter())
    for kind in (str, int, bool):
        converter.register_structure_hook(kind, _strict(kind))
    converter.register_structure_hook(JsonRPCRequestMessage, _request)
    converter.register_structure_hook(JsonRPCNotification, _notification)
    return converter
