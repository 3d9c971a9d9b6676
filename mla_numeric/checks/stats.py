"""Intervals, Bonferroni levels, log-log slope fits and the verdict rule per kind of claim.

Every claim check builds its intervals and verdicts from this module, so that a rule is written
once and its prose (``RULES[kind]``) is the one the report prints.

Kinds of claim and their rules (``low``, ``high``: the measurement's confidence interval):

- ``bound``: measured <= predicted. Holds when every upper limit is below its bound, fails when
  some lower limit is above; else inconclusive.
- ``rate``: a log-log slope at most ``limit``. Holds when the slope's upper limit is at most the
  limit, fails when its lower limit is above; else inconclusive.
- ``equality``: measured = predicted. Holds when the prediction lies in the interval, fails
  outside it.
- ``order``: an order of accuracy, a log-log slope against a threshold midway between the
  competing orders. Holds when the slope's interval lies above the threshold and the competing
  (plain) slope's below it; fails when the slope's interval lies below the threshold.
- ``ratio``: a sign/ratio claim ("the deeper coefficient is positive and larger"), decided from
  derived values and, where measured, only when the measurement's interval is on the claimed side.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = ["KINDS", "RULES", "bonferroni", "student_t_quantile", "normal_quantile", "student_t_interval",
           "loglog_slope", "loglog_slope_interval", "bootstrap_slope_interval", "bound_verdict",
           "rate_verdict", "equality_verdict", "order_verdict", "ratio_verdict"]

RULES = {
    "bound": "holds when every upper confidence limit is below the bound, fails when some lower limit is "
             "above it, else inconclusive",
    "rate": "holds when the slope's upper confidence limit is at most the limit, fails when its lower "
            "limit is above it, else inconclusive",
    "equality": "holds when the prediction lies in the confidence interval, fails outside it",
    "order": "holds when the slope's interval lies above the threshold and the plain flow's slope's "
             "below it, fails when the slope's interval lies below the threshold, else inconclusive",
    "ratio": "holds or fails by the derived coefficients; where measured, only when the measurement's "
             "interval lies on the same side, else inconclusive",
}
KINDS = tuple(RULES)


def bonferroni(failure_probability: float, count: int) -> float:
    """The failure probability of each of ``count`` intervals that keeps the family's below
    ``failure_probability`` (Bonferroni)."""
    if not 0 < failure_probability < 1:
        raise ValueError(f"failure_probability must lie in (0, 1), got {failure_probability!r}")
    return failure_probability / count


def student_t_quantile(failure_probability: float, dof: int) -> float:
    """Two-sided Student-t quantile: P(|t_dof| > q) = ``failure_probability``."""
    return float(stats.t.ppf(1 - failure_probability / 2, dof))


def normal_quantile(failure_probability: float) -> float:
    """Two-sided normal quantile: P(|Z| > z) = ``failure_probability``."""
    return float(stats.norm.ppf(1 - failure_probability / 2))


def student_t_interval(samples, failure_probability: float, axis: int = 0) -> tuple:
    """(mean, stderr, low, high) of independent samples along ``axis``: a two-sided Student-t
    interval that misses the true mean with ``failure_probability`` (CLT approximation)."""
    samples = np.asarray(samples, dtype=float)
    n = samples.shape[axis]
    mean = samples.mean(axis=axis)
    stderr = samples.std(axis=axis, ddof=1) / math.sqrt(n)
    half = student_t_quantile(failure_probability, n - 1) * stderr
    return mean, stderr, mean - half, mean + half


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y on log x."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def loglog_slope_interval(x, y, level: float = 0.95) -> tuple:
    """(slope, low, high): least-squares slope of log y on log x with its Student-t interval
    (n - 2 degrees of freedom): for deterministic y it measures the distance from a power law."""
    fit = stats.linregress(np.log(x), np.log(y))
    half = stats.t.ppf(0.5 + level / 2, len(x) - 2) * fit.stderr
    return float(fit.slope), float(fit.slope - half), float(fit.slope + half)


def bootstrap_slope_interval(x, samples, resamples: int = 2000, failure_probability: float = 0.05,
                             seed: int = 0) -> tuple:
    """(slope, low, high): the log-log slope of the mean of ``samples`` (replicates x len(x)) on x,
    with a two-sided percentile bootstrap interval, replicates resampled jointly across x."""
    samples = np.asarray(samples, dtype=float)
    rng = np.random.default_rng(seed)
    R = len(samples)
    slopes = [loglog_slope(x, samples[rng.integers(0, R, R)].mean(axis=0)) for _ in range(resamples)]
    low, high = np.percentile(slopes, [100 * failure_probability / 2, 100 * (1 - failure_probability / 2)])
    return loglog_slope(x, samples.mean(axis=0)), float(low), float(high)


def bound_verdict(lower, upper, bounds) -> str:
    """Rule ``bound`` over a sweep: limits and bounds are arrays of one length."""
    lower, upper, bounds = (np.asarray(v, dtype=float) for v in (lower, upper, bounds))
    if np.any(lower > bounds):
        return "fails"
    return "holds" if np.all(upper < bounds) else "inconclusive"


def rate_verdict(low: float, high: float, limit: float) -> str:
    """Rule ``rate``: the slope's interval against ``limit``."""
    return "holds" if high <= limit else "fails" if low > limit else "inconclusive"


def equality_verdict(predicted: float, low: float, high: float) -> str:
    """Rule ``equality``: the prediction inside the interval."""
    return "holds" if low <= predicted <= high else "fails"


def order_verdict(modified: tuple, plain: tuple, threshold: float) -> str:
    """Rule ``order``: (slope, low, high) of the modified and the plain error against ``threshold``."""
    if modified[1] > threshold and plain[2] < threshold:
        return "holds"
    return "fails" if modified[2] < threshold else "inconclusive"


def ratio_verdict(claimed: bool, surely_amplifies: bool | None = None, surely_not: bool | None = None) -> str:
    """Rule ``ratio``: ``claimed`` from the derived values; with a measurement, the verdict stands only
    when the measurement is surely on the same side."""
    verdict = "holds" if claimed else "fails"
    if surely_amplifies is None:
        return verdict
    return verdict if (surely_amplifies if claimed else surely_not) else "inconclusive"
