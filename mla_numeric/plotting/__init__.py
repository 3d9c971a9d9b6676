"""Every figure of the toolkit (matplotlib, Agg backend: no display needed), one module per check."""
import matplotlib

matplotlib.use("Agg")

from .conformance import conformance_figure  # noqa: E402
from .implicit import amplification_figure, drift_figure, order_figure  # noqa: E402
from .nqm import loss_over_time_figure, steady_state_figure, variance_map_figure  # noqa: E402
from .rate import rate_figure  # noqa: E402
from .report import verdict_figure  # noqa: E402
from .sweep import sweep_figure  # noqa: E402
from .worst_case import horizon_figure, worst_case_figure  # noqa: E402

__all__ = ["conformance_figure", "rate_figure", "order_figure", "amplification_figure", "drift_figure",
           "steady_state_figure", "loss_over_time_figure", "variance_map_figure", "verdict_figure", "sweep_figure",
           "worst_case_figure", "horizon_figure"]
