"""Logging in to a test runtime the way a ColabLink client would, with paramiko."""

from __future__ import annotations

import socket
from pathlib import Path

import paramiko


def transport_to(port: int, host: str = "127.0.0.1") -> paramiko.Transport:
    sock = socket.create_connection((host, port), timeout=10)
    transport = paramiko.Transport(sock)
    transport.start_client(timeout=10)
    return transport


def server_key_line(transport: paramiko.Transport) -> str:
    key = transport.get_remote_server_key()
    return f"{key.get_name()} {key.get_base64()}"


def login_with_password(port: int, username: str, password: str) -> paramiko.Transport:
    transport = transport_to(port)
    transport.auth_password(username, password)
    return transport


def login_with_key(port: int, username: str, key_path: Path) -> paramiko.Transport:
    transport = transport_to(port)
    transport.auth_publickey(username, paramiko.Ed25519Key.from_private_key_file(str(key_path)))
    return transport


def run(transport: paramiko.Transport, command: str, timeout: float = 30) -> tuple[int, str, str]:
    channel = transport.open_session(timeout=timeout)
    channel.settimeout(timeout)
    channel.exec_command(command)
    stdout = channel.makefile("rb").read().decode()
    stderr = channel.makefile_stderr("rb").read().decode()
    code = channel.recv_exit_status()
    channel.close()
    return code, stdout, stderr
