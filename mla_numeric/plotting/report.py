"""The report's overview figure: the verdicts per claim."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from .._typing import StrPath
from .output import save

__all__ = ["verdict_figure"]

COLORS = {"holds": "#2a9d4b", "fails": "#c8323c", "inconclusive": "#9a9a9a"}


def verdict_figure(counts: dict[str, dict[str, int]], path: StrPath, titles: dict[str, str]) -> Path:
    """One horizontal bar per claim, split into holds / fails / inconclusive counts.

    ``counts`` is ``{claim: {verdict: count}}``; ``titles`` names each claim on its bar.
    """
    claims = list(counts)[::-1]
    figure, axes = plt.subplots(figsize=(7.5, 0.5 + 0.55 * len(claims)))
    left = [0] * len(claims)
    for verdict, color in COLORS.items():
        widths = [counts[claim].get(verdict, 0) for claim in claims]
        bars = axes.barh(claims, widths, left=left, color=color, label=verdict)
        axes.bar_label(bars, labels=[str(w) if w else "" for w in widths], label_type="center", color="white",
                       fontsize=8)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    axes.set_yticks(range(len(claims)), [f"{claim}: {titles.get(claim, '')}" for claim in claims], fontsize=8)
    axes.set_xlabel("checks (one per setting, framing or optimizer)")
    axes.set_title("mla-check: verdicts per claim", pad=22)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(fontsize=8, ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    return save(figure, path)
