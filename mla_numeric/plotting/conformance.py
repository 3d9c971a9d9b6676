"""Figure of claim C8 (mla_numeric.conformance): how far the deviating implementations drift."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np

from .._typing import StrPath
from .output import save

if TYPE_CHECKING:
    from ..conformance import ConformanceTable

__all__ = ["conformance_figure"]

FLOOR, CEILING = 1e-18, 1e2  # a deviation of 0 is drawn at FLOOR, an infinite one (NaN weights) at CEILING


def conformance_figure(table: ConformanceTable, path: StrPath) -> Path:
    """Relative deviation from the engine before every oracle call (log y), exact gradients, one
    panel per depth, one line per deviating implementation; the dashed line is the tolerance.

    ``table`` is a ``ConformanceTable`` (or anything with ``rows`` of ``ConformanceRow``).
    """
    rows = [row for row in table.rows if row.verdict == "deviates"]
    depths = sorted({len(row.layers) for row in table.rows if row.comparisons}) or [1]
    figure, axes = plt.subplots(1, len(depths), figsize=(4.6 * len(depths), 4.0), sharey=True, squeeze=False)
    for panel, depth in zip(axes[0], depths, strict=True):
        for index, row in enumerate(r for r in rows if len(r.layers) == depth):
            recorded = row.comparisons[0].deviation
            assert recorded is not None  # compare() records the deviation of every comparison
            deviation = np.clip(np.nan_to_num(recorded, posinf=CEILING), FLOOR, CEILING)
            panel.step(np.arange(len(deviation)), deviation, where="post", color=f"C{index}",
                       label=row.implementation, linewidth=1)
        panel.axhline(1e-10, color="black", linestyle="--", linewidth=0.8, label="tolerance 1e-10")
        layers = next(r.layers for r in table.rows if len(r.layers) == depth)
        panel.set(yscale="log", xlabel="oracle call c", ylim=(FLOOR / 2, CEILING * 2),
                  title=f"depth {depth}: " + ", ".join(f"({k}, {a:g})" for k, a in layers))
        panel.grid(True, which="major", alpha=0.3)
        panel.legend(fontsize=6, loc="lower right")
    axes[0][0].set_ylabel("relative deviation from the engine before call c")
    figure.suptitle("Conformance (C8): nested Lookahead implementations against the engine, exact gradients")
    figure.tight_layout()
    return save(figure, path)
