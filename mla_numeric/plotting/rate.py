"""Figure of claims C1 and C2: A(T) against oracle calls, with bounds and a slope guide."""
import matplotlib.pyplot as plt
import numpy as np

from .output import save

__all__ = ["rate_figure"]


def rate_figure(sweeps, path, title: str):
    """A(T) against oracle calls T K (log-log) for each sweep, its C2 bound, and a T^(-1/2) guide."""
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    for index, sweep in enumerate(sweeps):
        color = f"C{index}"
        label = sweep.setting()["layers"]
        calls = sweep.calls
        axes.errorbar(calls, sweep.mean, yerr=2 * sweep.stderr, color=color, marker="o", ms=4,
                      capsize=2, label=f"{label}: measured A(T)")
        axes.plot(calls, sweep.bounds, color=color, linestyle="--", label=f"{label}: bound (C2)")
        if sweep.exact is not None:
            axes.plot(calls, sweep.exact, color=color, linestyle=":", label=f"{label}: exact (moments)")
    first = sweeps[0]
    guide = 0.5 * first.mean[0] * np.sqrt(first.calls[0] / first.calls)  # offset to stay visible
    axes.plot(first.calls, guide, color="grey", linewidth=1, label="slope -1/2")
    axes.set(xscale="log", yscale="log", xlabel="oracle calls per replicate (T K)",
             ylabel="(1/T) sum_{t<T} E||grad f(phi_t)||^2", title=title)
    axes.legend(fontsize=7, ncol=2)
    axes.grid(True, which="both", alpha=0.3)
    return save(figure, path)
