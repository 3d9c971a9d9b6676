"""Every theory notebook runs top to bottom (each ends with its own numeric confirmation)."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow  # each notebook starts a kernel and runs its checks

THEORY = Path(__file__).resolve().parent.parent / "theory"
NOTEBOOKS = sorted(THEORY.glob("*.ipynb"))


def test_the_theory_notebooks_exist():
    assert {p.name for p in NOTEBOOKS} >= {"modified_loss.ipynb", "convergence.ipynb", "noisy_quadratic.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()


def test_paper_checks_notebook_runs_at_the_quick_size(tmp_path):
    path = THEORY.parent / "paper_checks.ipynb"
    notebook = nbformat.read(path, as_version=4)
    parameters = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameters) == 1 and 'SIZE = "quick"' in parameters[0].source
    parameters[0].source += f'\nOUT = {str(tmp_path / "output")!r}'
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert (tmp_path / "output" / "nqm").is_dir()


def test_paper_checks_notebook_is_committed_small():
    path = THEORY.parent / "paper_checks.ipynb"
    assert path.stat().st_size < 200_000
