"""The sweep's heatmaps (mla_numeric/sweep.py): the verdicts over a pair of axes, values in the cells."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.patches import Patch

from .._typing import JSON, StrPath
from .output import save
from .report import COLORS

__all__ = ["sweep_figure"]


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def sweep_figure(rows: Sequence[JSON], first: str, second: str, axes: Mapping[str, Sequence[Any]], title: str,
                 path: StrPath) -> Path:
    """A heatmap of the sweep's ``rows`` over the axes ``first`` (vertical) and ``second``
    (horizontal), ``axes[name]`` giving each axis's values in order.

    A cell that holds one grid point has its verdict's colour and shows its value. A cell that holds
    several (the other axes have more than one value) mixes the verdict colours in proportion to
    their counts and shows how many of its points hold, "h/n".
    """
    ys, xs = axes[first], axes[second]
    cells: dict[tuple[int, int], list[JSON]] = {}
    for row in rows:
        cells.setdefault((ys.index(row["point"][first]), xs.index(row["point"][second])), []).append(row)
    image = np.ones((len(ys), len(xs), 3))
    figure, plot = plt.subplots(figsize=(2.5 + 0.8 * len(xs), 1.6 + 0.45 * len(ys)))
    for (i, j), members in cells.items():
        counts = [sum(row["verdict"] == verdict for row in members) for verdict in COLORS]
        mixed = sum(count * np.array(to_rgb(color)) for count, color in zip(counts, COLORS.values(), strict=True))
        image[i, j] = mixed / len(members)
        text = _value(members[0]["value"]) if len(members) == 1 else f"{counts[0]}/{len(members)}"
        plot.text(j, i, text, ha="center", va="center", fontsize=7, color="white")
    plot.imshow(image, origin="lower", aspect="auto")
    plot.set_xticks(range(len(xs)), [str(x) for x in xs], fontsize=8, rotation=30 if len(xs) > 6 else 0)
    plot.set_yticks(range(len(ys)), [str(y) for y in ys], fontsize=8)
    plot.set_xlabel(second)
    plot.set_ylabel(first)
    several = max(map(len, cells.values())) > 1
    plot.set_title(title + ("\n(cells: points that hold / points, over the other axes)" if several else ""),
                   fontsize=9, pad=24)
    plot.legend(handles=[Patch(color=color, label=verdict) for verdict, color in COLORS.items()], fontsize=8,
                ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    return save(figure, path)
