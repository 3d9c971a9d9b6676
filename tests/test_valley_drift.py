"""The valley drift (checks/valley_drift.py), the measurement behind claim C5: intervals, fit, input."""
import numpy as np
import pytest
from scipy import stats

from mla_numeric.checks.valley_drift import DriftSweep, check_drift, drift_sweep, z_quantile
from mla_numeric.objectives import robust_regression, valley


def test_drift_predicted_from_sgds_coefficient_fails_for_lookahead():
    # z for a failure probability of 1e-4 when the implementation is correct (normal interval)
    z = float(stats.norm.ppf(1 - 1e-4 / 2))
    sweep = drift_sweep(valley(2, 0, m=10), "LA", ((5, 0.5),), np.geomspace(0.001, 0.016, 5), 400)
    assert check_drift(sweep, z).verdict == "holds"
    assert check_drift(sweep, z, c_var_over_eta=0.25).verdict == "fails"


def test_a_drift_fit_that_is_not_a_cubic_is_inconclusive():
    lrs = np.geomspace(0.001, 0.016, 6)
    sweep = DriftSweep("SGD", (), 50, lrs, -0.9 + np.where(lrs > 0.005, 0.05, 0.0), np.full(6, 1e-4), 100, 2.0, 1.0)
    assert sweep.fit_p_value < 0.01 and check_drift(sweep, z_quantile(1)).verdict == "inconclusive"


def test_drift_sweep_rejects_bad_input():
    with pytest.raises(ValueError, match="valley"):
        drift_sweep(robust_regression(3, 0), "SGD", (), np.geomspace(0.001, 0.01, 5), 10)
    with pytest.raises(ValueError, match="not a multiple of K"):
        drift_sweep(valley(2, 0, m=7), "LA", ((5, 0.5),), np.geomspace(0.001, 0.01, 5), 10)
    with pytest.raises(ValueError, match="at least 5 values"):
        drift_sweep(valley(2, 0, m=5), "LA", ((5, 0.5),), [0.001, 0.01], 10)
