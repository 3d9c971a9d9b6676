"""Unit tests of the interval functions of mla_numeric.checks.stats (their coverage: test_calibration.py)."""
import math

import numpy as np
import pytest
from scipy import optimize
from scipy import stats as distributions

from mla_numeric.checks import stats


def test_bonferroni_splits_the_failure_probability():
    assert stats.bonferroni(0.05, 5) == pytest.approx(0.01)
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="failure_probability"):
            stats.bonferroni(bad, 3)


@pytest.mark.parametrize("p", [0.05, 0.01, 0.3])
def test_quantiles_are_two_sided(p):
    assert 2 * distributions.t.sf(stats.student_t_quantile(p, 7), 7) == pytest.approx(p)
    assert 2 * distributions.norm.sf(stats.normal_quantile(p)) == pytest.approx(p)
    assert stats.normal_quantile(0.05) == pytest.approx(1.959964, abs=1e-6)


def test_student_t_interval_of_a_symmetric_sample_by_hand():
    # [1, 2, 3]: mean 2, sd 1, stderr 1/sqrt(3), skewness 0, so the Student-t interval
    # 2 -+ t_{2, 0.975} / sqrt(3) = 2 -+ 4.302653 / 1.732051 = 2 -+ 2.484138.
    mean, stderr, low, high = stats.student_t_interval([1.0, 2.0, 3.0], 0.05)
    assert (mean, stderr) == pytest.approx((2.0, 1 / math.sqrt(3)))
    assert (low, high) == pytest.approx((2 - 2.484138, 2 + 2.484138), abs=1e-6)


def hall_twin(sample, p):
    """Slow twin: solve g(T) = -+q by root finding, g(T) = T + b T^2 + b^2 T^3 / 3 + b / 2."""
    sample = np.asarray(sample, dtype=float)
    n, mean = len(sample), sample.mean()
    deviations = sample - mean
    b = np.mean(deviations ** 3) / np.mean(deviations ** 2) ** 1.5 / (3 * math.sqrt(n))
    stderr = sample.std(ddof=1) / math.sqrt(n)
    q = distributions.t.ppf(1 - p / 2, n - 1)

    def solve(y):
        return optimize.brentq(lambda t: t + b * t ** 2 + b ** 2 * t ** 3 / 3 + b / 2 - y, -1e3, 1e3, xtol=1e-13)

    return mean - stderr * solve(q), mean - stderr * solve(-q)


@pytest.mark.parametrize("sample", [[0.0, 0.0, 3.0], [5.0, 1.0, 1.2, 0.9, 1.1, 0.8, 1.0, 1.3],
                                    np.random.default_rng(0).exponential(size=16),
                                    -np.random.default_rng(1).exponential(size=16)])
@pytest.mark.parametrize("p", [0.05, 0.01])
def test_student_t_interval_is_halls_transformation(sample, p):
    _, _, low, high = stats.student_t_interval(sample, p)
    assert (low, high) == pytest.approx(hall_twin(sample, p), rel=1e-9, abs=1e-12)


def test_student_t_interval_leans_towards_the_long_tail():
    sample = np.random.default_rng(0).exponential(size=16)  # right-skewed: the interval reaches further up
    mean, _, low, high = stats.student_t_interval(sample, 0.05)
    assert high - mean > mean - low > 0
    mirrored = stats.student_t_interval(-sample, 0.05)
    assert (mirrored[2], mirrored[3]) == pytest.approx((-high, -low))


def test_student_t_interval_along_an_axis_and_degenerate_samples():
    samples = np.random.default_rng(2).exponential(size=(4, 8))
    by_row = np.array([stats.student_t_interval(row, 0.05) for row in samples])
    np.testing.assert_allclose(np.array(stats.student_t_interval(samples, 0.05, axis=1)).T, by_row)
    np.testing.assert_allclose(np.array(stats.student_t_interval(samples.T, 0.05, axis=0)).T, by_row)
    assert stats.student_t_interval([2.5, 2.5, 2.5], 0.05) == (2.5, 0.0, 2.5, 2.5)
    with pytest.raises(ValueError, match="at least 2 samples"):
        stats.student_t_interval([1.0], 0.05)


def test_loglog_slope_of_a_power_law():
    x = np.array([10.0, 30.0, 100.0, 300.0])
    assert stats.loglog_slope(x, 3 * x ** -0.5) == pytest.approx(-0.5)
    slope, low, high = stats.loglog_slope_interval(x, 3 * x ** -0.5)
    assert (slope, low, high) == pytest.approx((-0.5, -0.5, -0.5))


def test_loglog_slope_interval_is_the_least_squares_t_interval():
    x, y = np.array([1.0, 2.0, 4.0, 8.0, 16.0]), np.array([1.0, 0.55, 0.26, 0.13, 0.07])
    fit = distributions.linregress(np.log(x), np.log(y))
    half = distributions.t.ppf(0.975, 3) * fit.stderr
    assert stats.loglog_slope_interval(x, y) == pytest.approx((fit.slope, fit.slope - half, fit.slope + half))


def test_replicate_slope_interval_of_rescaled_power_laws_has_zero_width():
    # y_r(x) = c_r x^(-1/2): every replicate has the mean's slope, so (y_rk - ybar_k) / ybar_k does not
    # depend on k and the linearized slopes b_r all equal b.
    x = np.array([100.0, 200.0, 400.0])
    samples = np.array([[1.0], [2.0], [0.5], [1.5]]) * x ** -0.5
    assert stats.replicate_slope_interval(x, samples) == pytest.approx((-0.5, -0.5, -0.5))


def test_replicate_slope_interval_uses_the_influence_of_each_replicate():
    """The linearized slopes are b plus the empirical influence of each replicate,
    d/de b((1 - e) F + e delta_r) at e = 0, here by central differences of the weighted mean."""
    x = np.array([1345.0, 2691.0, 5381.0])
    samples = np.random.default_rng(3).gamma(20.0, size=(8, 3)) * x ** -0.5
    slope, low, high = stats.replicate_slope_interval(x, samples, 0.05)

    def slope_at(weights):
        return stats.loglog_slope(x, weights @ samples)

    uniform, e = np.full(8, 1 / 8), 1e-6
    influence = [(slope_at(uniform + e * (np.eye(8)[r] - uniform)) - slope_at(uniform - e * (np.eye(8)[r] - uniform)))
                 / (2 * e) for r in range(8)]
    _, _, twin_low, twin_high = stats.student_t_interval(slope + np.array(influence), 0.05)
    assert slope == pytest.approx(stats.loglog_slope(x, samples.mean(axis=0)))
    assert (low, high) == pytest.approx((twin_low, twin_high), rel=1e-7)
