"""Parsing the connection info a runtime prints: both forms accepted, all else one sentence."""

from __future__ import annotations

import json
from typing import Any

import pytest
from colablink.enroll.connection_info import ConnectionInfo, GpuInfo, parse_connection_info
from colablink.errors import BadConnectionInfo, ColabLinkError
from colablink_runtime.info import encode_token
from hypothesis import given, settings
from hypothesis import strategies as st

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFswnHTBlaRUPEMcKAgxIBZRKdHzbuQ4M1+qbzTOxM8k"
PRINTED: dict[str, Any] = {
    "version": 1,
    "host": "0.tcp.ngrok.io",
    "port": 12345,
    "username": "colablink",
    "password": "s3cret-pw",
    "remote_root": "/content",
    "host_keys": [HOST_KEY],
    "gpu": {"name": "Tesla T4", "memory_mib": 15360},
}
EXPECTED = ConnectionInfo(
    host="0.tcp.ngrok.io",
    port=12345,
    username="colablink",
    password="s3cret-pw",
    remote_root="/content",
    version=1,
    host_keys=(HOST_KEY,),
    gpu=GpuInfo(name="Tesla T4", memory_mib=15360),
)


def _sentence(text: str) -> str:
    with pytest.raises(BadConnectionInfo) as caught:
        parse_connection_info(text)
    message = caught.value.message
    assert "\n" not in message and message.endswith("."), message
    return message


def test_json_as_printed() -> None:
    assert parse_connection_info(json.dumps(PRINTED, indent=2)) == EXPECTED


def test_token_form() -> None:
    assert parse_connection_info("  " + encode_token(PRINTED) + "\n") == EXPECTED


def test_original_five_fields_with_string_port() -> None:
    original = {
        "host": "127.0.0.1",
        "port": "2222",
        "username": "colablink",
        "password": "pw",
        "remote_root": "/content/",
    }
    info = parse_connection_info(json.dumps(original))
    assert (info.host, info.port, info.remote_root) == ("127.0.0.1", 2222, "/content")
    assert (info.host_keys, info.gpu, info.version) == ((), None, 1)


def test_to_dict_round_trips() -> None:
    assert parse_connection_info(json.dumps(EXPECTED.to_dict())) == EXPECTED


def test_truncated_json() -> None:
    text = json.dumps(PRINTED)[:40]
    assert "cut short" in _sentence(text)


def test_truncated_token() -> None:
    assert "cut short" in _sentence(encode_token(PRINTED)[:-7] + "@")


@pytest.mark.parametrize("field", ["host", "port", "username", "remote_root"])
def test_missing_field_is_named(field: str) -> None:
    data = {k: v for k, v in PRINTED.items() if k != field}
    assert f'"{field}" is missing' in _sentence(json.dumps(data))


@pytest.mark.parametrize("port", [0, 70000, -1, "70000", "ssh", 22.5, True])
def test_port_out_of_range_or_wrong_type(port: object) -> None:
    message = _sentence(json.dumps({**PRINTED, "port": port}))
    assert '"port" must be a number from 1 to 65535' in message


@pytest.mark.parametrize("host", [12, None, ["a"], {"h": 1}])
def test_non_string_host(host: object) -> None:
    message = _sentence(json.dumps({**PRINTED, "host": host}))
    assert '"host"' in message


def test_unknown_version() -> None:
    message = _sentence(json.dumps({**PRINTED, "version": 2}))
    assert '"version" is 2' in message and "update ColabLink" in message


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("remote_root", "content", '"remote_root" must be an absolute path'),
        ("username", "Bad User", '"username" must be a Unix user name'),
        ("password", "two\nlines", '"password" must be a non-empty single line'),
        ("host_keys", ["ssh-ed25519"], "not an OpenSSH public key"),
        ("host_keys", ["ssh-ed25519 !!notbase64"], "base64 is damaged"),
        ("gpu", "T4", '"gpu" must be an object'),
    ],
)
def test_other_fields_validated(field: str, value: object, fragment: str) -> None:
    assert fragment in _sentence(json.dumps({**PRINTED, field: value}))


@pytest.mark.parametrize("text", ["", "   ", "[1, 2]", "null", '"x"', "{", "clk1.", "clk1.!!!"])
def test_not_an_object(text: str) -> None:
    _sentence(text)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_fields = st.fixed_dictionaries({}, optional={name: _json for name in PRINTED})
_near_valid = st.builds(
    lambda base, changes: {**base, **changes},
    st.just(PRINTED),
    st.dictionaries(st.sampled_from(sorted(PRINTED)), _json, max_size=3),
)


@settings(deadline=None, derandomize=True, max_examples=400)
@given(
    st.one_of(
        st.text(),
        st.binary().map(lambda raw: raw.decode("latin-1")),
        _json.map(json.dumps),
        _fields.map(json.dumps),
        _near_valid.map(json.dumps),
        _near_valid.map(encode_token),
        st.text().map(lambda text: "clk1." + text),
        _near_valid.map(lambda data: json.dumps(data)[: len(json.dumps(data)) // 2]),
    )
)
def test_random_input_only_raises_colablink_errors(text: str) -> None:
    try:
        info = parse_connection_info(text)
    except ColabLinkError as exc:
        assert isinstance(exc, BadConnectionInfo)
        assert exc.message.endswith(".") and "\n" not in exc.message
    else:
        assert 1 <= info.port <= 65535 and info.remote_root.startswith("/")


_HOSTILE = [
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 50_000 + "1" + "}" * 50_000,
    json.dumps({**PRINTED, "port": "9" * 5000}),
    json.dumps({**PRINTED}).replace("12345", "9" * 4000),
    json.dumps({**PRINTED, "port": [1]}),
    json.dumps({**PRINTED, "host": "example.com\n"}),
    json.dumps({**PRINTED, "host": "-oProxyCommand=touch /tmp/x"}),
    json.dumps({**PRINTED, "username": "colablink\n"}),
    json.dumps({**PRINTED, "remote_root": ["/content"]}),
]


@pytest.mark.parametrize("text", [*_HOSTILE, *(encode_token(json.loads(t)) for t in _HOSTILE[2:])])
def test_hostile_info_is_one_sentence(text: str) -> None:
    _sentence(text)


def test_deeply_nested_token_is_one_sentence() -> None:
    import base64

    nested = ("[" * 100_000 + "]" * 100_000).encode()
    _sentence("clk1." + base64.urlsafe_b64encode(nested).decode().rstrip("="))


def test_profile_names_with_a_trailing_newline_are_refused() -> None:
    from colablink.errors import UsageError
    from colablink.local.profiles import check_profile_name

    with pytest.raises(UsageError, match="not allowed"):
        check_profile_name("default\n")
