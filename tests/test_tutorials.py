"""Every tutorial notebook runs top to bottom (its own assertions included)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "tutorials").glob("*.ipynb"))


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_notebook_executes(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    # The notebooks look for shared/data in their folder and its parents, as
    # from tutorials/ in a clone with ../shared beside it; they run in a
    # temporary folder here, so it gets a link to the same data.
    shared = ROOT.parent / "shared"
    if shared.is_dir():
        (tmp_path / "shared").symlink_to(shared, target_is_directory=True)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", []) if out.output_type == "error"]
    assert not errors


def test_there_is_a_quickstart():
    assert any(p.name == "01_quickstart.ipynb" for p in TUTORIALS)
