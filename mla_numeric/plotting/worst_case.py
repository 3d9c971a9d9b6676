"""Figures of claim C7: exact worst cases (PEPit) against the C2 bound, per nesting."""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from .._typing import StrPath
from .output import save

if TYPE_CHECKING:
    from ..worst_case import WorstCaseData

__all__ = ["worst_case_figure", "horizon_figure"]


def worst_case_figure(data: WorstCaseData, path: StrPath,
                      title: str = "Worst case over L-smooth f against the C2 bound (L = Delta = 1)") -> Path:
    """Per nesting: worst case and C2 bound 2 / (eta P K T) against eta L (log-log).

    Filled dots: the eta sweep (within the step condition); open dots: the bisection's SDPs beyond
    it (unbounded worst cases are left out). The bound is solid where C2 applies, dashed beyond;
    dotted: C2's bound at the step condition's eta, the bisection's target; vertical lines: the step
    condition's eta (grey) and the certified eta (green).
    """
    nestings = data.nestings
    columns = min(3, len(nestings))
    rows = math.ceil(len(nestings) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    for ax, nesting in zip(axes.flat, nestings, strict=True):
        T, scale = nesting.sweep[0].T, nesting.P * nesting.K * nesting.sweep[0].T
        trials = [w for w in nesting.certified.trials[1:] if not w.unbounded]
        etas = [w.lr for w in nesting.sweep] + [w.lr for w in trials]
        inside = np.geomspace(min(etas), nesting.step_lr, 50)
        beyond = np.geomspace(nesting.step_lr, max(etas + [nesting.step_lr]), 50)
        ax.plot(inside, 2 / (inside * scale), color="C1", label="C2 bound")
        ax.plot(beyond, 2 / (beyond * scale), color="C1", linestyle="--", label="C2 bound (no step condition)")
        ax.axhline(nesting.certified.target, color="C1", linestyle=":", linewidth=1, label="target")
        ax.plot([w.lr for w in nesting.sweep], [w.value for w in nesting.sweep], "o", color="C0",
                label="worst case")
        ax.plot([w.lr for w in trials], [w.value for w in trials], "o", mfc="none", color="C0",
                label="worst case (bisection)")
        ax.axvline(nesting.step_lr, color="grey", linewidth=1)
        if math.isfinite(nesting.certified.lr):
            ax.axvline(nesting.certified.lr, color="C2", linewidth=1)
        ax.set(xscale="log", yscale="log", xlabel="eta L", title=f"{nesting.spec} (K={nesting.K}, T={T})")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
    axes.flat[0].set_ylabel("(1/T) sum_{t<T} ||grad f(phi_t)||^2")
    axes.flat[0].legend(fontsize=6)
    for ax in list(axes.flat)[len(nestings):]:
        ax.set_visible(False)
    figure.suptitle(title)
    figure.tight_layout()
    return save(figure, path)


def horizon_figure(data: WorstCaseData, path: StrPath,
                   title: str = "Tightness of C2 against T, at the step condition's eta") -> Path:
    """worst / bound against the top-level iterations T, one line per nesting."""
    figure, ax = plt.subplots(figsize=(6.4, 4.4))
    for index, nesting in enumerate(data.nestings):
        ax.plot([w.T for w in nesting.horizon], [w.ratio for w in nesting.horizon], "o-", color=f"C{index}",
                label=f"{nesting.spec} (K={nesting.K})")
    ax.axhline(1.0, color="black", linewidth=1, label="bound")
    ax.set(xscale="log", xlabel="top-level iterations T", ylabel="worst case / C2 bound", title=title, ylim=(0, 1.1))
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    return save(figure, path)
