"""Framing the editor cannot break: a bad Content-Length is logged and the stream recovers."""

from __future__ import annotations

from pathlib import Path

import pytest
from colablink.helper.protocol import Method

from .rawclient import RawClient, helper_env

BAD_LENGTHS = [b"abc", b"-5", b"9" * 5000, b"99999999999", b"1e3", b"\xd9\xa3"]


@pytest.mark.parametrize(
    "value", BAD_LENGTHS, ids=["text", "negative", "huge", "over-cap", "float", "non-ascii"]
)
def test_a_bad_content_length_is_logged_and_later_requests_are_answered(
    tmp_path: Path, value: bytes
) -> None:
    stderr = tmp_path / "stderr"
    client = RawClient(helper_env(tmp_path), stderr)
    try:
        init = client.request(0, "initialize", {"capabilities": {}, "rootUri": tmp_path.as_uri()})
        assert "result" in init
        body = b'{"jsonrpc": "2.0", "id": 1, "method": "colablink/status", "params": {}}'
        assert client.proc.stdin is not None
        client.proc.stdin.write(b"Content-Length: " + value + b"\r\n\r\n" + body)
        client.proc.stdin.flush()
        for n in (2, 3):  # the first right after the damaged body, on the same line
            status = client.request(n, Method.STATUS, {})
            assert status["result"] == {"profiles": []}, status
    finally:
        assert client.close() == 0
    log = stderr.read_text()
    assert "Dropped a message whose Content-Length" in log and "Traceback" not in log, log
