"""Param validation against protocol.py's shapes, and settings from either source."""

from __future__ import annotations

import pytest
from colablink.helper.params import InvalidParams, validate
from colablink.helper.protocol import ConnectParams, ExecParams, PtyOpenParams, SyncNowParams
from colablink.helper.settings import Settings


@pytest.mark.parametrize(
    ("params", "shape", "named"),
    [
        ({}, ExecParams, "params.profile is required"),
        ({"profile": 1, "execId": "e"}, ExecParams, "params.profile must be a string"),
        ({"profile": "p", "execId": "e", "argv": ["a", 2]}, ExecParams, "params.argv[1]"),
        (
            {"profile": "p", "cols": True, "rows": 2},
            PtyOpenParams,
            "params.cols must be an integer",
        ),
        ({"profile": "p", "workDoneToken": 1.5}, SyncNowParams, "params.workDoneToken"),
        ([], ConnectParams, "params must be an object"),
    ],
)
def test_a_wrong_shape_names_the_field(params: object, shape: type, named: str) -> None:
    with pytest.raises(InvalidParams) as caught:
        validate(params, shape)
    assert named in caught.value.message


def test_a_right_shape_passes_and_unknown_keys_are_ignored() -> None:
    params = {"profile": "p", "execId": "e", "commandLine": "ls -la", "newerField": 1}
    assert validate(params, ExecParams) is params
    assert validate({"profile": "p", "workDoneToken": "t"}, SyncNowParams)["workDoneToken"] == "t"


def test_settings_come_bare_or_under_colablink_and_bad_ones_are_ignored() -> None:
    settings = Settings().updated({"logLevel": "debug", "codeLens": False})
    assert (settings.log_level, settings.code_lens) == ("debug", False)
    settings = settings.updated(
        {"colablink": {"sync": {"exclude": ["*.ckpt"], "debounceMs": 500}, "remotePython": "py"}}
    )
    assert settings.sync_exclude == ("*.ckpt",)
    assert settings.sync_debounce_s == 0.5
    assert settings.code_lens is False
    assert settings.updated({"codeLens": "yes"}) == settings
    assert settings.updated(None) == settings
