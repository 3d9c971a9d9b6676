"""Order of accuracy and measured coefficients of the derived modified losses (claims C3, C4).

The error of one cycle (or of the mean of one reshuffled epoch) against the modified flow must
fall like eta^3, against the plain flow like eta^2 (``checks.modified_loss.order_verdict``), and
the coefficients measured by Richardson extrapolation of its eta^2 term (``order_of_accuracy``)
must match the derived ones within their interval, at a resolution of 0.1 % or finer. The exact
means make these deterministic; the Monte Carlo case is seeded and states its standard error.
"""
import numpy as np
import pytest

import mla_numeric as mn
from mla_numeric.checks.modified_flow import default_lrs, epoch_mean, order_of_accuracy, richardson_weights
from mla_numeric.checks.modified_loss import order_run, order_verdict, starting_point
from mla_numeric.objectives import robust_regression, separable_wells, valley
from mla_numeric.symbolic import full_batch_coefficient


def verdict(order) -> str:
    return order_verdict(order)[0]


def assert_measured_as_derived(order, resolution=1e-3):
    """The claimed (derived) coefficients lie in the measured intervals, each interval's relative
    half-width at most ``resolution``."""
    c = order.coefficients
    assert np.all(np.abs(c.measured - c.claimed) <= c.half_width), (c.measured, c.claimed, c.half_width)
    assert np.all(c.half_width <= resolution * np.abs(c.claimed)), c.half_width / np.abs(c.claimed)


LAYERS = {0: [], 1: [(2, 0.6)], 2: [(2, 0.5), (2, 0.5)], 3: [(2, 0.6), (2, 0.5), (2, 0.5)]}


def test_richardson_weights_extrapolate_polynomials_exactly():
    # p(eta) = 2 - 3 eta + 5 eta^3 through 4 nodes: the weights return p(0) = 2 (degree < 4)
    nodes = np.array([0.1, 0.2, 0.4, 0.8])
    weights = richardson_weights(nodes)
    assert weights @ (2 - 3 * nodes + 5 * nodes ** 3) == pytest.approx(2.0, abs=1e-12)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    # two nodes h, 2h: the classic Richardson step 2 r(h) - r(2h)
    assert np.allclose(richardson_weights([0.5, 1.0]), [2.0, -1.0])


@pytest.mark.parametrize("n", [0, 1, 2, 3])
@pytest.mark.parametrize("make", [lambda: robust_regression(3, seed=0), lambda: separable_wells(2, seed=0)],
                         ids=["robust-regression", "wells"])
def test_full_batch_modified_loss_is_third_order_with_the_derived_lambda(n, make):
    # n = 0 is the anchor lambda = eta/4 (Barrett & Dherin 2021)
    order = order_run(make(), LAYERS[n])
    assert verdict(order) == "holds"
    assert_measured_as_derived(order)
    assert order.coefficients.names == ("lambda/eta",)


def test_paper_setting_measures_lambda_minus_31_over_16():
    order = order_run(robust_regression(3, seed=0), [(5, 0.5), (5, 0.5)])
    assert order.coefficients.claimed[0] == -31 / 16
    assert_measured_as_derived(order, resolution=1e-4)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_perturbed_full_batch_coefficient_fails_the_order_rule(n):
    result = order_run(robust_regression(3, seed=0), LAYERS[n], scale=(1.1, 1.0))
    assert verdict(result) == "fails"


@pytest.mark.parametrize("n, cycles", [(0, 2), (0, 4), (1, 1), (1, 2), (2, 1), (2, 2), (3, 1)])
@pytest.mark.parametrize("family", [robust_regression, valley], ids=["robust-regression", "valley"])
def test_reshuffled_modified_loss_is_third_order_with_the_derived_coefficients(n, cycles, family):
    # n = 0 is the anchor c_g = c_v = eta/4 (Smith et al. 2021)
    K = int(np.prod([k for k, _ in LAYERS[n]]))
    objective = family(3 if family is robust_regression else 2, 0, m=cycles * K)
    order = order_run(objective, LAYERS[n], cycles)
    assert verdict(order) == "holds"
    assert_measured_as_derived(order)
    assert order.coefficients.names == ("c_g/eta", "c_v/eta")


def test_reshuffled_without_the_variance_term_fails():
    order = order_run(valley(2, 0, m=8), LAYERS[2], 2, scale=(1.0, 0.0))
    assert verdict(order) == "fails"
    c = order.coefficients
    assert not abs(c.measured[1] - c.claimed[1]) <= c.half_width[1]  # c_v = 0 lies outside its interval


def test_coefficients_on_the_valley_diagonal_are_not_identifiable():
    # At w_1 = w_2, H g and grad V are parallel: c_g and c_v cannot be told apart, the interval is infinite.
    objective = valley(2, 0, m=4)
    x0 = objective.start() + 0.5
    c_g, c_v = 0.25, 0.25
    order = order_of_accuracy(objective, [], default_lrs(objective, x0), lambda eta: (c_g * eta, c_v * eta), x0,
                              cycles=4)
    assert np.all(np.isinf(order.coefficients.half_width))


@pytest.mark.slow
def test_three_layers_two_cycles_by_monte_carlo():
    # m = 16: 16! orders are too many, so 1.6 million random orders, the same at every eta. Their
    # standard error stays below a tenth of every error measured, so the fitted slopes reflect the
    # bias, not the noise. The coefficient intervals add a 95 % normal interval (Bonferroni over
    # c_g, c_v) to the deterministic terms: failure probability 5 % for a correct implementation
    # under the CLT; at seed 0 it holds, deterministically.
    objective = valley(2, 0, m=16)
    lrs = default_lrs(objective, starting_point(objective), 0.008, 0.064)
    result = order_run(objective, LAYERS[3], 2, samples=1_600_000, lrs=lrs)
    assert np.all(result.monte_carlo_error < result.error_modified / 10)
    assert verdict(result) == "holds"
    assert_measured_as_derived(result, resolution=1e-2)
    assert np.all(result.coefficients.monte_carlo > 0)


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


@pytest.mark.parametrize("scale", [(1.1, 1.0), (1.0, 1.1)])
def test_reshuffled_coefficient_ten_percent_off_fails_the_order_rule(scale):
    assert verdict(order_run(valley(2, 0, m=8), LAYERS[2], 2, scale=scale)) == "fails"


def test_the_measurement_does_not_depend_on_the_claim():
    # The claim enters only the modified-flow errors, never the measured coefficient or its interval.
    objective, layers = robust_regression(3, seed=0), LAYERS[2]
    x0 = starting_point(objective)
    lam = full_batch_coefficient(layers)
    right, wrong = (order_of_accuracy(objective, layers, default_lrs(objective, x0),
                                      lambda eta, s=s: (s * lam.evaluate(eta=eta), 0.0), x0) for s in (1.0, 0.5))
    assert np.array_equal(right.coefficients.measured, wrong.coefficients.measured)
    assert np.array_equal(right.coefficients.half_width, wrong.coefficients.half_width)
