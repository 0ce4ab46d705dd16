"""The package's floors: a lower one never imports a higher one.

``ssh/`` (the SSH layer) and ``local/`` (this machine's state) sit at the bottom; the daemon never
imports the CLI; the runtime package imports nothing of the local side. Checked on the source, so
an import hidden inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCAL_SIDE = ROOT / "server" / "colablink"
RUNTIME_SIDE = ROOT / "colab" / "colablink_runtime"

# Each folder (or the runtime package) and the colablink subpackages it must never import.
FORBIDDEN = {
    "ssh": {"local", "enroll", "sync", "daemon", "helper", "cli", "connection", "client", "demo"},
    "local": {"ssh", "enroll", "sync", "daemon", "helper", "cli", "connection", "client", "demo"},
    "enroll": {"daemon", "helper", "cli"},
    "sync": {"daemon", "helper", "cli"},
    "daemon": {"helper", "cli", "notebooks"},
    "notebooks": {"helper", "cli"},
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def colablink_parts(names: set[str]) -> set[str]:
    return {name.split(".")[1] for name in names if name.startswith("colablink.")}


@pytest.mark.parametrize("floor", sorted(FORBIDDEN))
def test_a_floor_imports_nothing_above_it(floor: str) -> None:
    files = sorted((LOCAL_SIDE / floor).rglob("*.py"))
    assert files, f"{floor}/ has no modules"
    offences = {
        f"{path.relative_to(ROOT)} imports colablink.{part}"
        for path in files
        for part in colablink_parts(imported_modules(path)) & FORBIDDEN[floor]
    }
    assert not offences, sorted(offences)


def test_the_runtime_package_imports_nothing_of_the_local_side() -> None:
    offences = [
        str(path.relative_to(ROOT))
        for path in sorted(RUNTIME_SIDE.rglob("*.py"))
        if any(n == "colablink" or n.startswith("colablink.") for n in imported_modules(path))
    ]
    assert not offences


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from colablink.cli.main import main\n    import colablink.sync.engine\n"
    )
    assert colablink_parts(imported_modules(module)) == {"cli", "sync"}
