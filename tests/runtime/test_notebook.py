"""The setup notebook loads, and every code cell compiles once IPython has turned ! lines into
Python, as Colab's kernel does."""

from __future__ import annotations

from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

NOTEBOOK = Path(__file__).resolve().parents[2] / "colab" / "colab_setup.ipynb"


def _code_cells() -> list[str]:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def test_every_code_cell_compiles_after_ipython_transforms() -> None:
    cells = _code_cells()
    assert len(cells) >= 4
    manager = TransformerManager()
    for index, source in enumerate(cells):
        python = manager.transform_cell(source)
        compile(python, f"<cell {index}>", "exec")


def test_cells_install_ask_set_up_and_keep_alive_in_order() -> None:
    text = "\n".join(_code_cells())
    steps = ["pip install", "getpass.getpass(", "runtime.setup()", "runtime.keep_alive()"]
    positions = [text.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "get_ipython().system(" in TransformerManager().transform_cell(_code_cells()[0])


def test_no_password_in_a_printed_command() -> None:
    text = "\n".join(_code_cells())
    assert "password" not in text
    assert "colablink init '" not in text and 'colablink init "' not in text
