"""Figures of claims C3-C5: order of accuracy, amplification maps, valley drift."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .._typing import StrPath
from .output import save

if TYPE_CHECKING:
    from ..checks.modified_flow import OrderResult
    from ..checks.valley_drift import DriftSweep

__all__ = ["order_figure", "amplification_figure", "drift_figure"]


def order_figure(orders: Mapping[str, OrderResult], path: StrPath, title: str) -> Path:
    """Left: error against eta (log-log), modified flow (solid) and plain flow (dashed), per
    optimizer, with slope-2 and slope-3 guides. Right: each coefficient over eta read at each eta
    (the eta^2 term of the error, before extrapolation), relative to the claimed value, and the
    Richardson extrapolation to eta = 0 with its interval (crosses). One colour per setting, named
    in a legend below both panels (slopes and values are in the check's table and CSV).
    ``orders`` maps a label to an ``OrderResult``."""
    figure, (axes, right) = plt.subplots(1, 2, figsize=(12.0, 4.8))
    for index, (label, order) in enumerate(orders.items()):
        color = f"C{index % 10}"
        axes.plot(order.lrs, order.error_modified, color=color, marker="o", ms=4, label=label)
        axes.plot(order.lrs, order.error_plain, color=color, marker="s", ms=4, linestyle="--")
        coefficients = order.coefficients
        for k, (_, style) in enumerate(zip(coefficients.names, ("-", ":"), strict=False)):
            claimed = coefficients.claimed[k]
            right.plot(np.concatenate([[0.0], order.lrs]),
                       np.concatenate([[coefficients.measured[k]], coefficients.at_lr[:, k]]) / claimed - 1,
                       color=color, linestyle=style, marker="o", ms=3, markevery=slice(1, None))
            right.errorbar([0.0], [coefficients.measured[k] / claimed - 1],
                           yerr=[coefficients.half_width[k] / abs(claimed)], color=color, marker="x", capsize=3)
    first = next(iter(orders.values()))
    lrs = first.lrs
    guides = [axes.plot(lrs, 0.3 * anchor * (lrs / lrs[0]) ** power, color="grey", linestyle=style, linewidth=1,
                        label=f"slope {power}")[0]
              for power, anchor, style in ((2, first.error_plain[0], "-"), (3, first.error_modified[0], ":"))]
    axes.set(xscale="log", yscale="log", xlabel="inner learning rate eta", ylabel="end point error (Euclidean)",
             title=f"{title}\n(solid: against the modified flow, dashed: against the plain flow)")
    axes.legend(handles=guides, fontsize=8, loc="lower right")
    axes.grid(True, which="both", alpha=0.3)
    right.axhline(0.0, color="grey", linewidth=1)
    right.set(xlabel="inner learning rate eta (0: Richardson extrapolation)",
              ylabel="coefficient read at eta / claimed - 1",
              title="Coefficients over eta\n(solid: lambda or c_g, dotted: c_v)")
    right.grid(True, alpha=0.3)
    handles, labels = axes.get_legend_handles_labels()
    settings = [(h, lab) for h, lab in zip(handles, labels, strict=True) if not lab.startswith("slope")]
    rows = (len(settings) - 1) // 5  # legend rows beyond the first
    figure.legend([h for h, _ in settings], [lab for _, lab in settings], loc="lower center",
                  ncol=min(5, len(settings)), fontsize=9, frameon=False, bbox_to_anchor=(0.5, -0.02 - 0.045 * rows))
    figure.tight_layout(rect=(0, 0.06 + 0.045 * rows, 1, 1))
    return save(figure, path)


def amplification_figure(grids: Mapping[tuple[str, str, int], Mapping[str, Any]], framing: str, path: StrPath
                         ) -> Path:
    """Ratio deeper / shallower over (k, alpha) for each pair (rows) and coefficient (columns:
    c_g, then c_v per cycles-per-epoch N). Grey: the deeper coefficient is <= 0 (it does not
    regularize). Solid contour: ratio 1; dashed: the deeper coefficient is 0; dotted: the shallower
    one is 0; hatched: the claim holds (deeper positive and larger)."""
    pairs = sorted({pair for pair, _, _ in grids}, key=lambda p: p != "LA/SGD")
    columns = [("c_g", min(cycles for _, c, cycles in grids if c == "c_g"))]
    columns += sorted({("c_v", cycles) for _, c, cycles in grids if c == "c_v"}, key=lambda c: c[1])
    figure, axes = plt.subplots(len(pairs), len(columns), figsize=(4.0 * len(columns), 3.4 * len(pairs)),
                                squeeze=False, sharex=True, sharey=True)
    norm = TwoSlopeNorm(vmin=-3.0, vcenter=1.0, vmax=3.0)
    for row, pair in enumerate(pairs):
        for column, (coefficient, cycles) in enumerate(columns):
            grid, ax = grids[pair, coefficient, cycles], axes[row, column]
            k, alpha = grid["k"], grid["alpha"]
            ratio = np.ma.masked_where(~(grid["c_deep"] > 0), np.clip(grid["ratio"], -3, 3))
            ax.set_facecolor("0.7")
            mesh = ax.pcolormesh(k, alpha, ratio, norm=norm, cmap="RdBu_r", shading="nearest")
            both_positive = (grid["c_deep"] > 0) & (grid["c_shallow"] > 0)  # elsewhere 1/c_shallow has a pole
            for values, style in ((np.where(both_positive, grid["ratio"] - 1, np.nan), "solid"),
                                  (grid["c_deep"], "dashed"), (grid["c_shallow"], "dotted")):
                if np.nanmin(values) < 0 < np.nanmax(values):
                    ax.contour(k, alpha, values, levels=[0], colors="k", linestyles=style, linewidths=1)
            ax.contourf(k, alpha, grid["amplifies"].astype(float), levels=[0.5, 1.5], colors="none",
                        hatches=["//"])
            label = "c_g (any N)" if coefficient == "c_g" else f"c_v, N = {cycles}"
            ax.set_title(f"{pair}: {label}", fontsize=9)
            if row == len(pairs) - 1:
                ax.set_xlabel("k (each layer)")
            if column == 0:
                ax.set_ylabel("alpha (each layer)")
    figure.colorbar(mesh, ax=axes, shrink=0.8, label="ratio deeper / shallower (clipped to [-3, 3])")
    axes[0, 0].legend(handles=[Patch(facecolor="none", hatch="//", label="claim holds"),
                               Patch(facecolor="0.7", label="deeper coefficient <= 0"),
                               Line2D([], [], color="k", label="ratio = 1"),
                               Line2D([], [], color="k", linestyle="dashed", label="deeper coefficient = 0"),
                               Line2D([], [], color="k", linestyle="dotted", label="shallower coefficient = 0")],
                      fontsize=6, loc="lower right")
    figure.suptitle(f"Amplification of the implicit regularization: {framing}")
    return save(figure, path)


def drift_figure(sweeps: Sequence[DriftSweep], predicted: Sequence[float], z: float, path: StrPath) -> Path:
    """y(eta) (valley drift per unit flow time, over eta) per optimizer with its quadratic fit, and
    the modified flow's prediction at eta -> 0 (stars) against the fitted intercept (interval)."""
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    for index, (sweep, prediction) in enumerate(zip(sweeps, predicted, strict=True)):
        color = f"C{index}"
        axes.errorbar(sweep.lrs, sweep.rates, yerr=z * sweep.stderr, color=color, marker="o", ms=4,
                      linestyle="none", capsize=2, label=f"{sweep.name}: measured")
        grid = np.linspace(0.0, sweep.lrs.max(), 100)
        axes.plot(grid, np.polynomial.polynomial.polyval(grid, sweep.fit), color=color, linewidth=1)
        axes.errorbar([0.0], [sweep.intercept], yerr=[z * sweep.intercept_stderr], color=color, capsize=3)
        axes.plot([0.0], [prediction], color=color, marker="*", ms=10, linestyle="none",
                  label=f"{sweep.name}: modified flow, -(c_v/eta) grad q.grad V")
    axes.set(xlabel="inner learning rate eta",
             ylabel="drift of w1^2 - w2^2 per unit flow time / eta",
             title="Valley drift under random reshuffling (m = 50)")
    axes.legend(fontsize=7)
    axes.grid(True, alpha=0.3)
    return save(figure, path)
