"""Writing a figure: atomically (files.save_figure), then closing it so that runs do not pile up figures."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .._typing import StrPath
from ..files import save_figure

__all__ = ["save"]


def save(figure: Figure, path: StrPath) -> Path:
    """Save ``figure`` as PNG at ``path`` atomically, close it, and return the path."""
    try:
        return save_figure(figure, path)
    finally:
        plt.close(figure)
