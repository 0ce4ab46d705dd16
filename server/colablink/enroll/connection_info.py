"""Parse and validate the connection info a runtime prints: its JSON, or the compact token.

Every rejection is a ``BadConnectionInfo`` whose sentence names the field and what was expected;
no other exception escapes ``parse_connection_info``, whatever the input.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

from colablink_runtime.info import INFO_VERSION, TOKEN_PREFIX, decode_token

from colablink.errors import BadConnectionInfo

# Matched with fullmatch: "$" also accepts a trailing newline, which ssh config would carry.
# A host never starts with "-", which ssh would read as an option.
_USERNAME = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
_HOST = re.compile(r"[A-Za-z0-9.:\[\]_][A-Za-z0-9.:\[\]_-]{0,252}")
_KEY_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
)


@dataclass(frozen=True)
class GpuInfo:
    name: str
    memory_mib: int | None


@dataclass(frozen=True)
class ConnectionInfo:
    host: str
    port: int
    username: str
    remote_root: str
    password: str | None = field(default=None, repr=False)
    version: int = INFO_VERSION
    host_keys: tuple[str, ...] = ()
    gpu: GpuInfo | None = None

    def to_dict(self) -> dict[str, Any]:
        gpu = None
        if self.gpu is not None:
            gpu = {"name": self.gpu.name, "memory_mib": self.gpu.memory_mib}
        return {
            "version": self.version,
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "remote_root": self.remote_root,
            "host_keys": list(self.host_keys),
            "gpu": gpu,
        }


def _bad(message: str) -> BadConnectionInfo:
    return BadConnectionInfo(f"Connection info is not valid: {message}.")


def _decode(text: str) -> Any:
    stripped = text.strip()
    if not stripped:
        raise _bad("it is empty; paste the JSON or token the runtime printed")
    if stripped.startswith(TOKEN_PREFIX):
        try:
            return decode_token(stripped)
        except (ValueError, RecursionError):
            raise _bad("the token is damaged or cut short; copy it again in one piece") from None
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):
        raise _bad(
            "it is neither JSON nor a clk1. token (perhaps cut short); copy it again in one piece"
        ) from None


def _string(data: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise _bad(f'"{name}" is missing')
        return None
    if not isinstance(value, str):
        raise _bad(f'"{name}" must be a string, not {type(value).__name__}')
    return value


def _port(data: dict[str, Any]) -> int:
    value = data.get("port")
    if value is None:
        raise _bad('"port" is missing')
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _bad(f'"port" must be a number from 1 to 65535, not {type(value).__name__}')
    if isinstance(value, str):
        digits = value.strip()
        # Past a few digits it is no port; int() of thousands of digits raises on 3.11+.
        if not digits.isdigit() or not digits.isascii() or len(digits) > 5:
            raise _bad(f'"port" must be a number from 1 to 65535, not {value[:20]!r}')
        value = int(digits)
    if not 1 <= value <= 65535:
        shown = str(value) if -(10**20) < value < 10**20 else "a number that long"
        raise _bad(f'"port" must be a number from 1 to 65535, not {shown}')
    return value


def _host_keys(data: dict[str, Any]) -> tuple[str, ...]:
    value = data.get("host_keys")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _bad('"host_keys" must be a list of OpenSSH public keys')
    keys = []
    for item in value:
        if not isinstance(item, str):
            raise _bad('"host_keys" must be a list of OpenSSH public keys')
        parts = item.split()
        if len(parts) < 2 or parts[0] not in _KEY_TYPES:
            raise _bad(f'"host_keys" holds {item[:30]!r}, which is not an OpenSSH public key')
        try:
            base64.b64decode(parts[1], validate=True)
        except (binascii.Error, ValueError):
            raise _bad(f'"host_keys" holds a key whose base64 is damaged ({parts[0]})') from None
        keys.append(f"{parts[0]} {parts[1]}")
    return tuple(keys)


def _gpu(data: dict[str, Any]) -> GpuInfo | None:
    value = data.get("gpu")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad('"gpu" must be an object with "name" and "memory_mib", or null')
    name = value.get("name")
    memory = value.get("memory_mib")
    if not isinstance(name, str):
        raise _bad('"gpu.name" must be a string')
    if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int)):
        raise _bad('"gpu.memory_mib" must be a whole number or null')
    return GpuInfo(name=name, memory_mib=memory)


def parse_connection_info(text: str) -> ConnectionInfo:
    """Parse what the runtime printed (JSON or ``clk1.`` token) into a validated ConnectionInfo."""
    data = _decode(text)
    if not isinstance(data, dict):
        raise _bad(f"expected a JSON object, got {type(data).__name__}")
    return connection_info_from_dict(data)


def connection_info_from_dict(data: dict[str, Any]) -> ConnectionInfo:
    version = data.get("version", INFO_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version != INFO_VERSION:
        raise _bad(
            f'"version" is {version!r}, but this ColabLink understands version {INFO_VERSION}; '
            "update ColabLink on both sides"
        )
    host = _string(data, "host")
    assert host is not None
    if not _HOST.fullmatch(host):
        raise _bad(f'"host" must be a host name or IP address, not {host[:40]!r}')
    port = _port(data)
    username = _string(data, "username")
    assert username is not None
    if not _USERNAME.fullmatch(username):
        raise _bad(f'"username" must be a Unix user name, not {username[:40]!r}')
    password = _string(data, "password", required=False)
    if password is not None and ("\n" in password or "\0" in password or not password):
        raise _bad('"password" must be a non-empty single line')
    remote_root = _string(data, "remote_root")
    assert remote_root is not None
    if not remote_root.startswith("/") or "\0" in remote_root or "\n" in remote_root:
        raise _bad(f'"remote_root" must be an absolute path, not {remote_root[:60]!r}')
    return ConnectionInfo(
        host=host,
        port=port,
        username=username,
        password=password,
        remote_root=remote_root.rstrip("/") or "/",
        version=version,
        host_keys=_host_keys(data),
        gpu=_gpu(data),
    )
