"""plotting/: every figure is drawn headless, saved atomically and closed.

The figures of the check groups are drawn from real data in their groups' tests (test_rate.py,
test_modified_loss.py, test_amplification.py, test_nqm.py); here the shared parts.
"""
import matplotlib.pyplot as plt

from mla_numeric import plotting
from mla_numeric.plotting.output import save


def test_the_backend_needs_no_display():
    assert plt.get_backend().lower() == "agg"


def test_save_writes_a_png_and_closes_the_figure(tmp_path):
    figure, axes = plt.subplots()
    axes.plot([0, 1], [1, 0])
    path = save(figure, tmp_path / "line.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not plt.fignum_exists(figure.number)


def test_verdict_figure(tmp_path):
    counts = {"C1": {"holds": 3, "inconclusive": 1}, "C2": {"fails": 2}}
    path = plotting.verdict_figure(counts, tmp_path / "verdicts.png", {"C1": "Rate", "C2": "Bound"})
    assert path.stat().st_size > 5_000 and not plt.get_fignums()


def test_the_package_exports_every_figure_function():
    for name in plotting.__all__:
        assert callable(getattr(plotting, name)) and name.endswith("_figure")
