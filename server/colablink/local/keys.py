"""Per-profile ed25519 client keys, made with ``cryptography`` (paramiko cannot generate ed25519).

The private key is written in OpenSSH format, so both paramiko and the OpenSSH client load it;
both files are 0600 from creation.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from colablink.errors import ColabLinkError
from colablink.local.localfiles import remove_if_present, write_atomic


def public_key_path(key_path: Path) -> Path:
    return key_path.with_name(key_path.name + ".pub")


def generate_keypair(key_path: Path, comment: str) -> str:
    """Write a new key at ``key_path`` (and ``.pub``); return its line ``type base64 comment``."""
    private = Ed25519PrivateKey.generate()
    private_bytes = private.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.OpenSSH,
        encryption_algorithm=serialization.NoEncryption(),
    )
    public_bytes = private.public_key().public_bytes(
        encoding=serialization.Encoding.OpenSSH,
        format=serialization.PublicFormat.OpenSSH,
    )
    line = f"{public_bytes.decode('ascii')} {comment}"
    write_atomic(key_path, private_bytes, mode=0o600)
    write_atomic(public_key_path(key_path), (line + "\n").encode("ascii"), mode=0o600)
    return line


def public_line(key_path: Path) -> str:
    """The ``type base64`` public line of a private key in OpenSSH or PEM format (no passphrase)."""
    try:
        data = key_path.read_bytes()
    except OSError as exc:
        raise ColabLinkError(f"Cannot read the key {key_path}: {exc.strerror}.") from None
    key: PrivateKeyTypes
    try:
        key = serialization.load_ssh_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ColabLinkError(
                f"{key_path} is not an unencrypted SSH private key; give one without a passphrase."
            ) from None
    try:
        public = key.public_key().public_bytes(
            encoding=serialization.Encoding.OpenSSH,
            format=serialization.PublicFormat.OpenSSH,
        )
    except ValueError:
        raise ColabLinkError(f"{key_path} holds a key type SSH cannot use.") from None
    return public.decode("ascii")


def key_blob(public: str) -> str:
    """The ``type base64`` part of an OpenSSH public line, dropping any comment or options."""
    parts = public.split()
    return f"{parts[0]} {parts[1]}"


def fingerprint(public: str) -> str:
    """OpenSSH's ``SHA256:…`` fingerprint of a ``type base64`` key line."""
    blob = base64.b64decode(public.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")
    return f"SHA256:{digest}"


def delete_keypair(key_path: Path) -> None:
    remove_if_present(key_path)
    remove_if_present(public_key_path(key_path))
