"""Checks a request's raw JSON params against its TypedDict in ``colablink.helper.protocol``.

pygls hands custom-method params over untyped, so a wrong shape would otherwise surface as a
``KeyError`` deep inside a handler. Unknown keys are ignored so a newer extension still works.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, NotRequired, Required, TypeVar, Union, cast, is_typeddict

T = TypeVar("T")


class InvalidParams(Exception):
    """The params do not have the shape the method expects; the message names the field."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def validate(params: Any, shape: type[T]) -> T:
    """Return ``params`` unchanged, typed as ``shape``, or raise ``InvalidParams``."""
    if params is None:
        params = {}
    _check_typed_dict(params, shape, "params")
    return cast(T, params)


def _check_typed_dict(value: Any, shape: type[Any], where: str) -> None:
    if not isinstance(value, dict):
        raise InvalidParams(f"{where} must be an object, not {_json_type(value)}.")
    # With postponed annotations, only include_extras keeps NotRequired visible.
    hints = typing.get_type_hints(shape, include_extras=True)
    optional_keys: frozenset[str] = getattr(shape, "__optional_keys__", frozenset())
    for name, hint in hints.items():
        origin = typing.get_origin(hint)
        optional = origin is NotRequired or (name in optional_keys and origin is not Required)
        if origin in (NotRequired, Required):
            hint = typing.get_args(hint)[0]
        field = f"{where}.{name}"
        if name not in value:
            if not optional:
                raise InvalidParams(f"{field} is required.")
            continue
        _check(value[name], hint, field)


def _check(value: Any, hint: Any, where: str) -> None:
    origin = typing.get_origin(hint)
    if hint is Any:
        return
    if origin in (Union, types.UnionType):
        errors: list[str] = []
        for option in typing.get_args(hint):
            try:
                _check(value, option, where)
            except InvalidParams as exc:
                errors.append(exc.message)
            else:
                return
        raise InvalidParams(errors[0] if len(errors) == 1 else f"{where} has the wrong type.")
    if hint is type(None):
        if value is not None:
            raise InvalidParams(f"{where} must be null, not {_json_type(value)}.")
    elif origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed or isinstance(value, bool):
            choices = ", ".join(repr(a) for a in allowed)
            raise InvalidParams(f"{where} must be one of {choices}.")
    elif origin is list:
        if not isinstance(value, list):
            raise InvalidParams(f"{where} must be an array, not {_json_type(value)}.")
        (item,) = typing.get_args(hint)
        for index, element in enumerate(value):
            _check(element, item, f"{where}[{index}]")
    elif isinstance(hint, type) and is_typeddict(hint):
        _check_typed_dict(value, hint, where)
    elif hint is bool:
        if not isinstance(value, bool):
            raise InvalidParams(f"{where} must be a boolean, not {_json_type(value)}.")
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidParams(f"{where} must be an integer, not {_json_type(value)}.")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidParams(f"{where} must be a number, not {_json_type(value)}.")
    elif hint is str:
        if not isinstance(value, str):
            raise InvalidParams(f"{where} must be a string, not {_json_type(value)}.")
    else:
        raise TypeError(f"no validator for {hint!r} at {where}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def require(condition: bool, message: str) -> None:
    """A rule the types cannot express (one of two fields, a positive size)."""
    if not condition:
        raise InvalidParams(message)
