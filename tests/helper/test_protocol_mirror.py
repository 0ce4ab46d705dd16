"""protocol.py and extension/src/protocol.ts must list the same methods, notifications, error
codes and lens command ids.

The Python side is read with ``ast``; the TypeScript side is read from its
``export const <Name> = { KEY: value, ... } as const;`` blocks.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = ROOT / "server" / "colablink" / "helper" / "protocol.py"
TS = ROOT / "extension" / "src" / "protocol.ts"
TABLES = ("Method", "Notification", "ErrorCode", "LensCommand")

_TS_BLOCK = re.compile(r"export\s+const\s+(\w+)\s*=\s*\{(.*?)\}\s*as\s+const\s*;", re.DOTALL)
_TS_ENTRY = re.compile(r"""(\w+)\s*:\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|-?\d+)""")


def python_tables(source: str) -> dict[str, dict[str, object]]:
    tables: dict[str, dict[str, object]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name in TABLES:
            entries: dict[str, object] = {}
            for item in node.body:
                if isinstance(item, ast.Assign) and isinstance(item.targets[0], ast.Name):
                    entries[item.targets[0].id] = ast.literal_eval(item.value)
            tables[node.name] = entries
    return tables


def typescript_tables(source: str) -> dict[str, dict[str, object]]:
    source = re.sub(r"//[^\n]*", "", source)
    tables: dict[str, dict[str, object]] = {}
    for name, body in _TS_BLOCK.findall(source):
        if name in TABLES:
            tables[name] = {key: ast.literal_eval(value) for key, value in _TS_ENTRY.findall(body)}
    return tables


def test_protocol_ts_mirrors_protocol_py() -> None:
    assert TS.is_file(), f"{TS.relative_to(ROOT)} is missing; the extension must mirror protocol.py"
    py = python_tables(PY.read_text())
    ts = typescript_tables(TS.read_text())
    assert set(py) == set(TABLES), "protocol.py lost one of its tables"
    for table in TABLES:
        assert ts.get(table) == py[table], f"{table} differs between protocol.py and protocol.ts"


def test_a_method_added_on_either_side_is_caught() -> None:
    assert TS.is_file()
    py_source, ts_source = PY.read_text(), TS.read_text()
    grown_py = py_source.replace("class Method:", 'class Method:\n    EXTRA = "colablink/extra"', 1)
    grown_ts = ts_source.replace(
        "export const Method = {", 'export const Method = {\n  EXTRA: "colablink/extra",', 1
    )
    assert python_tables(grown_py)["Method"] != typescript_tables(ts_source)["Method"]
    assert typescript_tables(grown_ts)["Method"] != python_tables(py_source)["Method"]


def test_error_codes_are_the_error_classes_codes() -> None:
    import colablink.errors
    from colablink.errors import ColabLinkError
    from colablink.helper.protocol import ErrorCode

    classes = [
        value
        for value in vars(colablink.errors).values()
        if isinstance(value, type) and issubclass(value, ColabLinkError)
    ]
    listed = {value for name, value in vars(ErrorCode).items() if not name.startswith("_")}
    assert {cls.code for cls in classes} == listed
