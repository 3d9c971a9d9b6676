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
from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from .._typing import FloatArray

__all__ = ["KINDS", "RULES", "Estimate", "bonferroni", "student_t_quantile", "normal_quantile", "student_t_interval",
           "loglog_slope", "loglog_slope_interval", "replicate_slope_interval", "bound_verdict",
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

Estimate: TypeAlias = FloatArray | np.float64
"""A statistic along an axis of samples: an array, a numpy scalar where the samples are one-dimensional."""


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


def student_t_interval(samples: ArrayLike, failure_probability: float,
                       axis: int = 0) -> tuple[Estimate, Estimate, Estimate, Estimate]:
    """(mean, stderr, low, high) of n >= 2 independent samples along ``axis``: a two-sided interval
    for the true mean, missing it with ``failure_probability``: Student t with Hall's skewness
    correction.

    The studentized mean T = (mean - mu) / stderr of skewed samples is skewed the other way, so
    the symmetric Student-t interval misses more on one side. Hall's transformation

        g(T) = T + b T^2 + b^2 T^3 / 3 + b / 2,    b = gamma / (3 sqrt(n)),

    gamma = m_3 / m_2^(3/2) the sample skewness, removes the n^(-1/2) term of T's Edgeworth
    expansion and is increasing, so with q the Student-t quantile (n - 1 degrees of freedom)
    P(-q <= g(T) <= q) ~ 1 - p gives

        [mean - stderr g^-1(q), mean - stderr g^-1(-q)],
        g^-1(y) = 3 u / (c^2 + c + 1),  u = y - b / 2,  c = (1 + 3 b u)^(1/3).

    For symmetric samples (gamma = 0) it is the Student-t interval, exact for normal data.
    Source: P. Hall, On the removal of skewness by transformation, J. R. Statist. Soc. B 54
    (1992) 221-228 (with normal quantiles; the t quantile is the small-sample choice here).
    Coverage on the checks' data: docs/calibration.md.
    """
    samples = np.moveaxis(np.asarray(samples, dtype=float), axis, 0)
    n = len(samples)
    if n < 2:
        raise ValueError(f"an interval needs at least 2 samples along axis {axis}, got {n}")
    mean: Estimate = samples.mean(axis=0)
    deviations = samples - mean
    stderr: Estimate = samples.std(axis=0, ddof=1) / math.sqrt(n)
    spread = np.sqrt(np.mean(deviations ** 2, axis=0))
    skewness = np.mean(deviations ** 3, axis=0) / np.where(spread > 0, spread, 1.0) ** 3
    b: Estimate = skewness / (3 * math.sqrt(n))

    def inverse(y: float) -> Estimate:
        u = y - b / 2
        c = np.cbrt(1 + 3 * b * u)
        return 3 * u / (c ** 2 + c + 1)

    q = student_t_quantile(failure_probability, n - 1)
    return mean, stderr, mean - stderr * inverse(q), mean - stderr * inverse(-q)


def loglog_slope(x: ArrayLike, y: ArrayLike) -> float:
    """Least-squares slope of log y on log x."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def loglog_slope_interval(x: FloatArray | Sequence[float], y: ArrayLike,
                          level: float = 0.95) -> tuple[float, float, float]:
    """(slope, low, high): least-squares slope of log y on log x with its Student-t interval
    (n - 2 degrees of freedom). For deterministic y (the modified-loss errors) it measures the
    distance from a power law, not sampling error: there is no coverage to calibrate."""
    fit = stats.linregress(np.log(x), np.log(y))
    half = stats.t.ppf(0.5 + level / 2, len(x) - 2) * fit.stderr
    return float(fit.slope), float(fit.slope - half), float(fit.slope + half)


def replicate_slope_interval(x: ArrayLike, samples: ArrayLike,
                             failure_probability: float = 0.05) -> tuple[float, float, float]:
    """(slope, low, high): the least-squares slope b of log ybar(x) on log x, ybar the mean of
    ``samples`` (independent replicates x len(x), positive means), with a two-sided interval
    missing the slope of log E y(x) with ``failure_probability``.

    With w_k = (log x_k - mean log x) / sum_j (log x_j - mean log x)^2, b = sum_k w_k log ybar_k.
    To first order in each replicate's deviation (the delta method), replicate r contributes the
    linearized slope

        b_r = b + sum_k w_k (y_rk - ybar_k) / ybar_k,

    independent across replicates, with mean exactly b and spread the delta-method (infinitesimal
    jackknife) standard error of b: Efron & Tibshirani, An Introduction to the Bootstrap (1993),
    section 21.3. The interval is ``student_t_interval`` of the b_r, whose n - 1 degrees of freedom
    matter at a few replicates, where the percentile bootstrap (plug-in spread, normal tails)
    under-covers; coverage: docs/calibration.md.
    """
    samples = np.asarray(samples, dtype=float)
    mean = samples.mean(axis=0)
    logx = np.log(np.asarray(x, dtype=float))
    weights = (logx - logx.mean()) / np.sum((logx - logx.mean()) ** 2)
    slope = float(weights @ np.log(mean))
    _, _, low, high = student_t_interval(slope + (samples - mean) / mean @ weights, failure_probability)
    return slope, float(low), float(high)


def bound_verdict(lower: ArrayLike, upper: ArrayLike, bounds: ArrayLike) -> str:
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


def order_verdict(modified: tuple[float, float, float], plain: tuple[float, float, float], threshold: float) -> str:
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
