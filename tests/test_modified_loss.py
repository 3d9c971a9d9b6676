"""Claims C3 and C4 (checks/modified_loss.py): verdicts at the quick size, negative controls, files.

The order intervals come from the slope fits (stats.loglog_slope_interval).
"""
import json

import numpy as np
import pytest

from mla_numeric.checks.modified_flow import OrderResult, default_lrs, order_of_accuracy
from mla_numeric.checks.modified_loss import check_order, order_run, order_verdict
from mla_numeric.checks.registry import group
from mla_numeric.objectives import robust_regression, valley
from mla_numeric.report import write_artifacts


def _run_and_write(checked, out):
    """The group's quick run, its files written into ``out``; its CheckResult objects."""
    data, results = checked.run(checked.preset("quick"))
    write_artifacts(out, checked.artifacts(data, results), results)
    return results


@pytest.fixture(scope="module")
def order_checks(tmp_path_factory):
    out = tmp_path_factory.mktemp("modified-loss")
    return out, _run_and_write(group("modified-loss"), out)


def test_order_checks_hold_with_figures_and_data(order_checks):
    out, checks = order_checks
    assert {check.claim for check in checks} == {"C3", "C4"}
    assert all(check.verdict == "holds" for check in checks), [c.setting for c in checks if c.verdict != "holds"]
    for name in ("order_C3.png", "order_C4.png", "order_C3.csv", "order_C4.csv", "modified_loss.json"):
        assert (out / name).stat().st_size > 0
    assert len(json.loads((out / "modified_loss.json").read_text())) == len(checks)


def test_modified_loss_without_the_variance_term_fails_the_reshuffled_check():
    layers, objective = ((2, 0.5), (2, 0.5)), valley(2, 0, m=8)
    order = order_run(objective, layers, cycles=2, with_variance=False)
    assert check_order(order, objective, layers, cycles=2).verdict == "fails"


def test_plain_flow_as_the_modified_loss_fails_the_full_batch_check():
    # lambda = 0 (the plain flow) leaves an O(eta^2) error: the modified slope is about 2
    layers, objective = ((2, 0.6),), robust_regression(3, 0)
    x0 = objective.start() + 0.5
    order = order_of_accuracy(objective, layers, default_lrs(objective, x0), lambda eta: (0.0, 0.0), x0)
    assert check_order(order, objective, layers).verdict == "fails"


def test_an_order_check_swamped_by_monte_carlo_noise_is_inconclusive():
    lrs = np.geomspace(0.01, 0.08, 4)
    order = OrderResult(lrs, lrs ** 3, lrs ** 2, lrs ** 3, 3.0, 2.0)  # noise as large as the error
    assert order_verdict(order)[0] == "inconclusive"
    assert order_verdict(OrderResult(lrs, lrs ** 3, lrs ** 2, 0 * lrs, 3.0, 2.0))[0] == "holds"
