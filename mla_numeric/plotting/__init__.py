"""Every figure of the toolkit (matplotlib, Agg backend: no display needed), one module per check."""
import matplotlib

matplotlib.use("Agg")

from .rate import rate_figure  # noqa: E402

__all__ = ["rate_figure"]
