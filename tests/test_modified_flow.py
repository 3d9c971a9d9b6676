"""Order of accuracy of the derived modified losses (claims C3, C4), with negative controls.

The error of one cycle (or of the mean of one reshuffled epoch) against the modified flow must
fall like eta^3, against the plain flow like eta^2. The verdict is the C3/C4 check's
(``checks.modified_loss.order_verdict``): the modified slope's interval above 2.5 and the plain
slope's below (fails: the modified slope's interval below 2.5). The exact means make these
deterministic; the Monte Carlo case states its standard error, which the test
requires to be below a tenth of every error it measures.
"""
import numpy as np
import pytest

import mla_numeric as mn
from mla_numeric.checks.modified_loss import order_verdict
from mla_numeric.checks.modified_flow import default_lrs, epoch_mean, order_of_accuracy
from mla_numeric.objectives import robust_regression, separable_wells, valley
from mla_numeric.symbolic import full_batch_coefficient, reshuffled_coefficients


def verdict(order) -> str:
    return order_verdict(order)[0]


LAYERS = {1: [(2, 0.6)], 2: [(2, 0.5), (2, 0.5)], 3: [(2, 0.6), (2, 0.5), (2, 0.5)]}


def full_batch(objective, layers, scale=1.0):
    x0 = objective.start() + 0.5
    lam = full_batch_coefficient(layers)
    return order_of_accuracy(objective, layers, default_lrs(objective, x0),
                             lambda eta: (scale * lam.evaluate(eta=eta), 0.0), x0)


def reshuffled(layers, cycles, objective, with_variance=True, samples=None, lrs=(0.002, 0.016)):
    x0 = objective.start() + 0.5
    c_g, c_v = reshuffled_coefficients(layers, cycles)
    return order_of_accuracy(
        objective, layers, default_lrs(objective, x0, *lrs),
        lambda eta: (c_g.evaluate(eta=eta), c_v.evaluate(eta=eta) if with_variance else 0.0),
        x0, cycles=cycles, samples=samples)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("make", [lambda: robust_regression(3, seed=0), lambda: separable_wells(2, seed=0)],
                         ids=["robust-regression", "wells"])
def test_full_batch_modified_loss_is_third_order(n, make):
    assert verdict(full_batch(make(), LAYERS[n])) == "holds"


@pytest.mark.parametrize("n", [1, 2, 3])
def test_perturbed_full_batch_coefficient_fails(n):
    result = full_batch(robust_regression(3, seed=0), LAYERS[n], scale=1.1)
    assert verdict(result) == "fails"


@pytest.mark.parametrize("n, cycles", [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1)])
@pytest.mark.parametrize("family", [robust_regression, valley], ids=["robust-regression", "valley"])
def test_reshuffled_modified_loss_is_third_order(n, cycles, family):
    K = int(np.prod([k for k, _ in LAYERS[n]]))
    objective = family(3 if family is robust_regression else 2, 0, m=cycles * K)
    assert verdict(reshuffled(LAYERS[n], cycles, objective)) == "holds"


def test_reshuffled_without_the_variance_term_fails():
    result = reshuffled(LAYERS[2], 2, valley(2, 0, m=8), with_variance=False)
    assert verdict(result) == "fails"


def test_three_layers_two_cycles_by_monte_carlo():
    # m = 16: 16! orders are too many, so 1.6 million random orders. Their standard error stays
    # below a tenth of every error measured, so the fitted slopes reflect the bias, not the noise.
    result = reshuffled(LAYERS[3], 2, valley(2, 0, m=16), samples=1_600_000, lrs=(0.008, 0.064))
    assert np.all(result.monte_carlo_error < result.error_modified / 10)
    assert verdict(result) == "holds"


def test_exact_mean_over_orders_matches_monte_carlo():
    # The exact mean lies within 5 standard errors of the Monte Carlo mean (CLT per coordinate,
    # failure probability 6e-7 each for a correct implementation).
    objective, optimizer, x0 = valley(2, 0, m=4), mn.MLA([(2, 0.5)], 0.05), np.array([1.5, 0.2])
    exact, _ = epoch_mean(objective, optimizer, x0, cycles=2)
    sampled, stderr = epoch_mean(objective, optimizer, x0, cycles=2, samples=20_000, seed=1)
    assert np.all(np.abs(exact - sampled) <= 5 * stderr)


def test_epoch_needs_matching_components():
    with pytest.raises(ValueError, match="needs m = 8 components"):
        epoch_mean(valley(2, 0, m=4), mn.MLA([(2, 0.5), (2, 0.5)], 0.05), [1.0, 1.0], cycles=2)


@pytest.mark.parametrize("scale_grad, scale_var", [(1.1, 1.0), (1.0, 1.1)])
def test_reshuffled_coefficient_ten_percent_off_fails(scale_grad, scale_var):
    objective, layers, cycles = valley(2, 0, m=8), LAYERS[2], 2
    x0 = objective.start() + 0.5
    c_g, c_v = reshuffled_coefficients(layers, cycles)
    result = order_of_accuracy(objective, layers, default_lrs(objective, x0),
                               lambda eta: (scale_grad * c_g.evaluate(eta=eta), scale_var * c_v.evaluate(eta=eta)),
                               x0, cycles=cycles)
    assert verdict(result) == "fails"
