"""Writing a figure: atomically (files.save_figure), then closing it so that runs do not pile up figures."""
import matplotlib.pyplot as plt

from ..files import save_figure

__all__ = ["save"]


def save(figure, path):
    """Save ``figure`` as PNG at ``path`` atomically, close it, and return the path."""
    try:
        return save_figure(figure, path)
    finally:
        plt.close(figure)
