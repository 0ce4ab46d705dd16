"""A bare JSON-RPC-over-stdio client for the helper, able to send bytes no real client would."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any


def helper_command() -> list[str]:
    return [sys.executable, "-m", "colablink.helper"]


def helper_env(base: Path) -> dict[str, str]:
    """Private config, runtime and ssh config locations under ``base`` for one helper."""
    env = dict(os.environ)
    env["COLABLINK_CONFIG_DIR"] = str(base / "config")
    env["COLABLINK_RUNTIME_DIR"] = str(base / "run")
    env["COLABLINK_SSH_CONFIG"] = str(base / "ssh_config")
    return env


class RawClient:
    def __init__(self, env: dict[str, str], stderr: Path | None = None) -> None:
        with open(stderr or os.devnull, "wb") as err:
            self.proc = subprocess.Popen(
                helper_command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                env=env,
            )
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        # Notifications passed over while waiting for a response.
        self.skipped: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def send_bytes(self, body: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def send(self, message: Any) -> None:
        self.send_bytes(json.dumps(message).encode())

    def _read(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        while True:
            length = None
            while True:
                line = stdout.readline()
                if not line:
                    self.messages.put(None)
                    return
                if line == b"\r\n":
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            assert length is not None
            self.messages.put(json.loads(stdout.read(length)))

    def next_message(self, timeout: float = 10.0) -> dict[str, Any]:
        message = self.messages.get(timeout=timeout)
        assert message is not None, "the helper closed its stdout"
        return message

    def request(self, msg_id: int, method: str, params: Any = None) -> dict[str, Any]:
        """Send a request and return its response, skipping notifications on the way."""
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        while True:
            message = self.next_message()
            if message.get("id") == msg_id and "method" not in message:
                return message
            self.skipped.append(message)

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            return self.proc.wait(5)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
