"""Every tutorial notebook runs top to bottom (its own assertions included)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("*.ipynb"))


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_notebook_executes(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", []) if out.output_type == "error"]
    assert not errors


def test_there_is_a_quickstart():
    assert any(p.name == "01_quickstart.ipynb" for p in TUTORIALS)
