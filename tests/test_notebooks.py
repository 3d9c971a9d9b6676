"""Every theory notebook runs top to bottom (each ends with its own numeric confirmation)."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

THEORY = Path(__file__).resolve().parent.parent / "theory"
NOTEBOOKS = sorted(THEORY.glob("*.ipynb"))


def test_the_theory_notebooks_exist():
    assert {p.name for p in NOTEBOOKS} >= {"modified_loss.ipynb", "convergence.ipynb", "noisy_quadratic.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
