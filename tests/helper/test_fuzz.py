"""500 malformed or random messages: every request is answered and the helper keeps serving."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

from colablink.helper.protocol import Method

from .rawclient import RawClient, helper_env

FUZZ_COUNT = 500
HUGE = "x" * (1 << 20)


def _garbage(rng: random.Random, depth: int = 0) -> Any:
    choices: list[Any] = [
        None,
        True,
        rng.randint(-(2**40), 2**40),
        rng.random() * 1e6,
        "",
        "é\u0000\ud7ff",
        "a" * rng.randint(1, 300),
    ]
    if depth < 3:
        choices.append([_garbage(rng, depth + 1) for _ in range(rng.randint(0, 3))])
        choices.append({f"k{i}": _garbage(rng, depth + 1) for i in range(rng.randint(0, 3))})
        choices.append(
            {"textDocument": _garbage(rng, depth + 1), "profile": _garbage(rng, depth + 1)}
        )
    return rng.choice(choices)


METHODS = [value for name, value in vars(Method).items() if name.isupper()]


def _request(msg_id: int, method: str, params: Any = None) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}).encode()


def _message(rng: random.Random, msg_id: int) -> tuple[bytes, str]:
    """One message and what it deserves: "id" (a reply with that id), "null" or "none"."""
    kind = rng.randrange(10)
    if kind == 0:
        raw = rng.choice([b"{", b"{not json", b"\xff\xfe\x00", b'{"jsonrpc": "2.0", "id": ', b""])
        return raw + bytes(rng.randrange(256) for _ in range(rng.randrange(8))), "null"
    if kind == 1:
        return json.dumps(rng.choice([[], [1, 2], 3, "str", None, True])).encode(), "null"
    if kind == 2:
        bad_id = rng.choice([[1], {"a": 1}, 1.5, True])
        return json.dumps(
            {"jsonrpc": "2.0", "id": bad_id, "method": Method.STATUS}
        ).encode(), "null"
    if kind == 3:
        version = rng.choice(["1.0", None, 2])
        return json.dumps(
            {"jsonrpc": version, "id": msg_id, "method": Method.STATUS}
        ).encode(), "id"
    if kind == 4:
        method = rng.choice(["colablink/nope", "nope", "", "textDocument/nothing", HUGE[:5000]])
        return _request(msg_id, method, {}), "id"
    if kind == 5:
        params = rng.choice([_garbage(rng), {"textDocument": {"uri": _garbage(rng)}}, HUGE])
        return _request(msg_id, "textDocument/codeLens", params), "id"
    if kind == 6:
        method = rng.choice([*METHODS, "$/cancelRequest"])
        return json.dumps(
            {"jsonrpc": "2.0", "method": method, "params": _garbage(rng)}
        ).encode(), "none"
    if kind == 7:
        params = {"profile": rng.choice([HUGE, 7, None, "nope"]), "argv": _garbage(rng)}
        return _request(msg_id, rng.choice(METHODS), params), "id"
    if kind == 8:
        return _request(msg_id, rng.choice(METHODS), _garbage(rng)), "id"
    return json.dumps(
        {"jsonrpc": "2.0", "id": msg_id, "method": rng.choice(METHODS)}
    ).encode(), "id"


def test_every_malformed_request_gets_a_reply_and_the_helper_keeps_serving(tmp_path: Path) -> None:
    client = RawClient(helper_env(tmp_path))
    try:
        init = client.request(0, "initialize", {"capabilities": {}, "rootUri": tmp_path.as_uri()})
        assert "result" in init
        client.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})

        rng = random.Random(5)
        want_ids: set[int] = set()
        want_null = 0
        for n in range(1, FUZZ_COUNT + 1):
            body, deserves = _message(rng, n)
            client.send_bytes(body)
            if deserves == "id":
                want_ids.add(n)
            elif deserves == "null":
                want_null += 1

        got_ids: set[int] = set()
        got_null = 0
        shown: list[Any] = []
        deadline = time.monotonic() + 60
        while (want_ids - got_ids or got_null < want_null) and time.monotonic() < deadline:
            message = client.next_message(timeout=max(0.1, deadline - time.monotonic()))
            if message.get("method") == "window/showMessage":
                shown.append(message)
            if "method" in message:
                continue
            assert "result" in message or "error" in message
            if message["id"] is None:
                got_null += 1
            else:
                got_ids.add(message["id"])
        assert want_ids <= got_ids, f"no reply to ids {sorted(want_ids - got_ids)[:20]}"
        assert got_null == want_null
        assert shown == [], "the helper popped up a message box"

        status = client.request(10_000, Method.STATUS, {})
        assert status["result"] == {"profiles": []}
    finally:
        assert client.close() == 0
