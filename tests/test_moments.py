"""Exact moment recurrences for quadratics against the simulator (and the reverse)."""
import numpy as np
import pytest

import mla_numeric as mn
from mla_numeric.moments import cycle_maps, quadratic_moments
from mla_numeric.objectives import dense_quadratic, diagonal_quadratic, quadratic_parts

OPTIMIZERS = [mn.MLA([], 0.3), mn.MLA([(5, 0.5)], 0.3), mn.MLA([(3, 0.5), (2, 0.7)], 0.3),
              mn.MLA([(2, 0.5), (2, 0.5), (2, 0.8)], 0.3)]
QUADRATICS = [diagonal_quadratic(4, seed=0), dense_quadratic(3, seed=1)]

# Each Monte Carlo comparison passes when |MC mean - exact| <= Z * (MC standard error). With
# R = 4000 replicates the CLT makes the ratio N(0, 1) to good accuracy, and Z = 5 gives a
# two-sided failure probability of 5.7e-7 per comparison; a test makes at most 16, so a correct
# implementation fails one with probability below 1e-5 (Bonferroni), whatever the seed.
Z, REPLICATES, TIMES = 5.0, 4000, [1, 3, 8, 15]


def max_z_score(objective, simulated, exact):
    result = mn.simulate(objective, simulated, max(TIMES), seeds=REPLICATES, seed=21,
                         oracle=mn.GaussianNoise(0.8))
    moments = quadratic_moments(objective, exact, max(TIMES), oracle=mn.GaussianNoise(0.8))
    scores = []
    for measured, predicted in [(result.loss, moments.loss), (result.grad_norm_sq, moments.grad_norm_sq)]:
        scores += [abs(measured.mean[t] - predicted[t]) / measured.stderr[t] for t in TIMES]
    return max(scores)


@pytest.mark.parametrize("objective", QUADRATICS, ids=["diagonal", "dense"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda o: o.describe())
def test_monte_carlo_agrees_with_exact_moments(objective, optimizer):
    assert max_z_score(objective, optimizer, optimizer) <= Z


def test_same_check_rejects_a_different_optimizer():
    # Negative control: moments of alpha = 0.5 against a simulation with alpha = 0.65.
    objective = QUADRATICS[0]
    assert max_z_score(objective, mn.MLA([(5, 0.65)], 0.3), mn.MLA([(5, 0.5)], 0.3)) > Z


@pytest.mark.parametrize("objective", QUADRATICS, ids=["diagonal", "dense"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda o: o.describe())
def test_noiseless_moments_are_the_trajectory(objective, optimizer):
    result = mn.simulate(objective, optimizer, 12, seeds=1)
    moments = quadratic_moments(objective, optimizer, 12)
    np.testing.assert_allclose(moments.loss, result.loss_records[0], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(moments.grad_norm_sq, result.grad_norm_sq_records[0], rtol=1e-10, atol=1e-14)


def test_diagonal_and_dense_cycle_maps_agree():
    optimizer = mn.MLA([(3, 0.5), (2, 0.7)], 0.2)
    h = np.array([1.0, 0.3, 0.05])
    M_diag, B_diag = cycle_maps(h, optimizer)
    M, B = cycle_maps(np.diag(h), optimizer)
    np.testing.assert_allclose(M, np.diag(M_diag), atol=1e-15)
    np.testing.assert_allclose(B, np.stack([np.diag(b) for b in B_diag]), atol=1e-15)


def test_noise_weights_follow_the_cycle_lemma():
    # With A = 0, x_K+1 = phi - eta P sum_j xi_j: every B_j is -eta P.
    optimizer = mn.MLA([(3, 0.5), (2, 0.7)], 0.2)
    M, B = cycle_maps(np.zeros(2), optimizer)
    np.testing.assert_allclose(M, 1.0)
    np.testing.assert_allclose(B, -optimizer.lr * optimizer.P)


def test_moments_need_a_quadratic_and_gaussian_noise():
    from mla_numeric import objectives
    with pytest.raises(ValueError, match="not a quadratic"):
        quadratic_moments(objectives.make("wells", 2), OPTIMIZERS[0], 3)
    with pytest.raises(ValueError, match="gaussian"):
        quadratic_moments(QUADRATICS[0], OPTIMIZERS[0], 3, oracle=mn.WithReplacement())
    A, xstar = quadratic_parts(QUADRATICS[1])
    assert A.shape == (3, 3) and xstar.shape == (3,)
