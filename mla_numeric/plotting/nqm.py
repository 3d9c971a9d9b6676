"""Figures of claim C6 (checks/nqm.py): steady-state variances, loss over time, variance-reduction map."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np

from .._typing import FloatArray, StrPath
from ..spec import format_layers
from .output import save

if TYPE_CHECKING:
    from ..checks.nqm import LossCurve, NQMMeasurement, VarianceMap

__all__ = ["steady_state_figure", "loss_over_time_figure", "variance_map_figure"]


def _label(name: str, layers: Iterable[tuple[int, float]]) -> str:
    return f"{name} ({format_layers(layers)})" if layers else name


def steady_state_figure(measurements: Sequence[NQMMeasurement], closed_forms: Sequence[FloatArray], path: StrPath
                        ) -> Path:
    """V_i against h_i (log-log): closed form (line), recurrence fixed point (dots), Monte Carlo
    E phi_T,i^2 over the replicates (error bars: two standard errors)."""
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    for index, (m, closed) in enumerate(zip(measurements, closed_forms, strict=True)):
        color = f"C{index}"
        label = _label(m.name, m.layers)
        stderr = m.final_sq.std(axis=0, ddof=1) / math.sqrt(len(m.final_sq))
        axes.errorbar(m.h, m.final_sq.mean(axis=0), yerr=2 * stderr, color=color, fmt=".", ms=2, alpha=0.35,
                      label=f"{label}: Monte Carlo")
        axes.plot(m.h, closed, color=color, label=f"{label}: closed form")
        axes.plot(m.h, m.exact, color=color, linestyle="none", marker=".", ms=3, label=f"{label}: recurrence")
    axes.set(xscale="log", yscale="log", xlabel="curvature h_i (s_i^2 = h_i)",
             ylabel="steady-state variance V_i of the slow weights",
             title=f"NQM, d = {len(measurements[0].h)}, eta = {measurements[0].lr:g}")
    axes.legend(fontsize=7)
    axes.grid(True, which="both", alpha=0.3)
    return save(figure, path)


def loss_over_time_figure(curves: Sequence[LossCurve], lr: float, budget: int, title: str, path: StrPath) -> Path:
    """Exact E f(phi_t) against oracle calls (log y): at the matched eta, with the closed-form
    steady states dashed, and at each nesting's best eta for the budget."""
    figure, (matched, best) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for index, c in enumerate(curves):
        color = f"C{index}"
        label = _label(c.name, c.layers)
        matched.plot(c.calls, c.matched, color=color, label=label)
        matched.axhline(c.floor, color=color, linestyle="--", linewidth=0.8)
        best.plot(c.calls, c.best, color=color, label=f"{label}, eta = {c.best_lr:.3g}")
    matched.set_title(f"same eta = {lr:g} (dashed: closed-form steady state)")
    best.set_title(f"each at its best eta for {budget} oracle calls")
    for axes in (matched, best):
        axes.set(yscale="log", xlabel="oracle calls")
        axes.legend(fontsize=8)
        axes.grid(True, which="both", alpha=0.3)
    matched.set_ylabel("expected loss E f(phi_t) (exact, moment recurrences)")
    figure.suptitle(title)
    return save(figure, path)


def variance_map_figure(vmap: VarianceMap, path: StrPath, alpha: float = 0.5) -> Path:
    """Rows: V_LA / V_SGD and V_MLA / V_LA over (eta h, alpha) with contours, then the contraction
    per oracle call |M_n|^(1/K) at ``alpha`` (the cost in speed); one column per k."""
    a = int(np.argmin(np.abs(vmap.alphas - alpha)))
    figure, grid = plt.subplots(3, len(vmap.ks), figsize=(4.2 * len(vmap.ks), 10), squeeze=False)
    for column, k in enumerate(vmap.ks):
        for row, (ratio, name) in enumerate(((vmap.la_over_sgd, "V_LA / V_SGD"), (vmap.mla_over_la, "V_MLA / V_LA"))):
            axes = grid[row, column]
            mesh = axes.pcolormesh(vmap.eta_h, vmap.alphas, ratio[column], vmin=0, vmax=1, cmap="viridis",
                                   shading="nearest")
            lines = axes.contour(vmap.eta_h, vmap.alphas, ratio[column], levels=[0.1, 0.25, 0.5, 0.75, 0.9],
                                 colors="white", linewidths=0.8)
            axes.clabel(lines, fontsize=7)
            axes.set(xlabel="eta h", ylabel="alpha", title=f"{name}, k = {k}")
            figure.colorbar(mesh, ax=axes)
        axes = grid[2, column]
        for index, (name, values) in enumerate(vmap.per_call.items()):
            axes.plot(vmap.eta_h, values[column, a], color=f"C{index}", label=name)
        axes.set(xlabel="eta h", ylabel="|M_n|^(1/K) per oracle call", ylim=(0, 1.02),
                 title=f"contraction per oracle call, k = {k}, alpha = {vmap.alphas[a]:g}")
        axes.legend(fontsize=8)
        axes.grid(True, alpha=0.3)
    figure.suptitle("NQM steady-state variance ratios (< 1 wherever alpha < 1) and their cost in speed")
    figure.tight_layout()
    return save(figure, path)
