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
# R = 4000 replicates the CLT makes the ratio N(0, 1) to good accuracy (for E phi_t exactly a
# t-statistic with 3999 degrees of freedom: phi_t is affine in the Gaussian noise), and Z = 5
# gives a two-sided failure probability of 5.7e-7 per comparison. Bonferroni, per test:
#   loss and ||grad f||^2 (both noise models): 2 quantities x 4 TIMES = 8 comparisons -> 4.6e-6;
#   E phi_t: d coordinates x 4 TIMES = 16 (diagonal, d = 4) or 12 (dense, d = 3) -> <= 9.2e-6.
# Over the whole file (8 + 8 + 4 parametrized tests: 64 + 112 + 32 = 208 comparisons) a correct
# implementation fails some check with probability below 1.2e-4, whatever the (fixed) seed.
Z, REPLICATES, TIMES = 5.0, 4000, [1, 3, 8, 15]


def max_z_score(objective, simulated, exact, oracle=None, exact_oracle=None, x0=None):
    """Largest |z| of loss and grad_norm_sq over TIMES (2 x 4 = 8 comparisons)."""
    oracle = mn.GaussianNoise(0.8) if oracle is None else oracle
    exact_oracle = oracle if exact_oracle is None else exact_oracle
    result = mn.simulate(objective, simulated, max(TIMES), replicates=REPLICATES, seed=21,
                         oracle=oracle, x0=x0)
    moments = quadratic_moments(objective, exact, max(TIMES), oracle=exact_oracle, x0=x0)
    scores = []
    for measured, predicted in [(result.loss, moments.loss), (result.grad_norm_sq, moments.grad_norm_sq)]:
        scores += [abs(measured.mean[t] - predicted[t]) / measured.stderr[t] for t in TIMES]
    return max(scores)


def max_mean_z_score(objective, simulated, exact):
    """Largest |z| of E phi_t per coordinate over TIMES (d x 4 comparisons)."""
    result = mn.simulate(objective, simulated, max(TIMES), replicates=REPLICATES, seed=21,
                         oracle=mn.GaussianNoise(0.8), trajectory=True)
    moments = quadratic_moments(objective, exact, max(TIMES), oracle=mn.GaussianNoise(0.8))
    phi = result.trajectory[:, TIMES]  # (R, len(TIMES), d)
    stderr = phi.std(axis=0, ddof=1) / np.sqrt(REPLICATES)
    assert moments.mean.shape == (max(TIMES) + 1, objective.dim) and np.all(stderr > 0)
    return np.max(np.abs(phi.mean(axis=0) - moments.mean[TIMES]) / stderr)


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
def test_monte_carlo_mean_agrees_with_exact_mean(objective, optimizer):
    # E phi_t = x* + M^t (x0 - x*), coordinate by coordinate (x0 = 0 != x*, so it is not trivial).
    assert max_mean_z_score(objective, optimizer, optimizer) <= Z


@pytest.mark.parametrize("objective", QUADRATICS, ids=["diagonal", "dense"])
def test_same_mean_check_rejects_a_different_optimizer(objective):
    # Negative control: the exact mean of alpha = 0.5 against a simulation with alpha = 0.65.
    assert max_mean_z_score(objective, mn.MLA([(5, 0.65)], 0.3), mn.MLA([(5, 0.5)], 0.3)) > Z


NQM = mn.objectives.noisy_quadratic(4)
NQM_START = np.ones(4)  # away from x* = 0, so the mean part of the moments is not zero


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda o: o.describe())
def test_per_coordinate_noise_agrees_with_exact_moments(optimizer):
    # The NQM oracle: independent N(0, (h_i s_i)^2) noise per coordinate, sd 1, 0.35, 0.19, 0.125.
    oracle = mn.objectives.nqm_noise(NQM)
    assert oracle.scale is not None and len(set(oracle.noise_scale(4))) == 4
    assert max_z_score(NQM, optimizer, optimizer, oracle=oracle, x0=NQM_START) <= Z


def test_per_coordinate_check_rejects_isotropic_noise_of_the_same_size():
    # Negative control: exact moments for isotropic noise with the same total variance
    # sum_i (h_i s_i)^2, against the NQM simulation; only the split over coordinates differs.
    oracle = mn.objectives.nqm_noise(NQM)
    isotropic = mn.GaussianNoise(float(np.linalg.norm(oracle.noise_scale(4))))
    optimizer = OPTIMIZERS[1]
    assert max_z_score(NQM, optimizer, optimizer, oracle=oracle, exact_oracle=isotropic,
                       x0=NQM_START) > Z


@pytest.mark.parametrize("objective", QUADRATICS, ids=["diagonal", "dense"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda o: o.describe())
def test_noiseless_moments_are_the_trajectory(objective, optimizer):
    result = mn.simulate(objective, optimizer, 12, replicates=1)
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
