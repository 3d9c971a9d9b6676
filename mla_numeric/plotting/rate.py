"""Figure of claims C1 and C2: A(T) against oracle calls, with the bounds and the C1 controls."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from .._typing import StrPath
from .output import save

if TYPE_CHECKING:
    from ..checks.rate import OptimizerRuns

__all__ = ["rate_figure"]

STYLES = {"c/sqrt(T)": ("-", "o"), "constant": ("--", "s"), "T^(-1/4)": (":", "^")}


def rate_figure(runs: Sequence[OptimizerRuns], path: StrPath, title: str) -> Path:
    """Two log-log panels against oracle calls T K, one colour per optimizer (``runs``: a list of
    ``checks.rate.OptimizerRuns``). Left, C2: A(T) (mean, 2 standard errors) on the bound sweep and,
    where it ran, the C1 window, the bound dashed. Right, C1, for the optimizers with a window only:
    the window at eta = c / sqrt(T) (solid), a constant eta (dashed) and eta ~ T^(-1/4) (dotted),
    each labelled with its fitted slope, and a T^(-1/2) guide along the first run with a window."""
    figure, (bound_axes, rate_axes) = plt.subplots(1, 2, figsize=(11.5, 4.6))
    for index, run in enumerate(runs):
        color, label = f"C{index}", run.bound.setting()["layers"]
        for sweep in [run.bound] + ([] if run.rate is None else [run.rate]):
            bound_axes.errorbar(sweep.calls, sweep.mean, yerr=2 * sweep.stderr, color=color, marker="o", ms=3,
                                capsize=2, label=label if sweep is run.bound else None)
            bound_axes.plot(sweep.calls, sweep.bounds, color=color, linestyle="--", linewidth=1)
        for sweep in ([] if run.rate is None else [run.rate]) + list(run.controls):
            linestyle, marker = STYLES[sweep.schedule]
            rate_axes.plot(sweep.calls, sweep.mean, color=color, linestyle=linestyle, marker=marker, ms=4,
                           label=f"{label}, {sweep.schedule}: slope {sweep.slope()[0]:.2f}")
    first = next((run.rate for run in runs if run.rate is not None), None)
    if first is not None:
        guide = 0.8 * first.mean[0] * np.sqrt(first.calls[0] / first.calls)  # offset to stay visible
        rate_axes.plot(first.calls, guide, color="grey", linewidth=1, label="slope -1/2")
        rate_axes.legend(fontsize=6.5, ncol=1, loc="lower left")
    else:
        rate_axes.text(0.5, 0.5, "no C1 window at this size", transform=rate_axes.transAxes, ha="center")
    bound_axes.legend(handles=bound_axes.get_legend_handles_labels()[0]
                      + [Line2D([], [], color="grey", linestyle="--", label="bound (C2)")], fontsize=7)
    bound_axes.set(title="C2: bound sweep and C1 window", ylabel="(1/T) sum_{t<T} E||grad f(phi_t)||^2")
    rate_axes.set(title="C1 window: eta = c/sqrt(T) (solid) and controls")
    for axes in (bound_axes, rate_axes):
        axes.set(xscale="log", yscale="log", xlabel="oracle calls per replicate (T K)")
        axes.grid(True, which="both", alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    return save(figure, path)
