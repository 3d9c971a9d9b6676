"""Symbolic results against the published anchors and against independent computation."""
import itertools

import naive
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import mla_numeric as mn
from mla_numeric import symbolic
from mla_numeric.symbolic import ETA, N_CYCLES
from mla_numeric.symbolic.nqm import NQM_SYMBOLS

BETA = NQM_SYMBOLS["beta"]
layers_strategy = st.lists(st.tuples(st.integers(1, 4), st.sampled_from([0.25, 0.5, 0.75, 1.0])),
                           max_size=3)


# ---- structure ---------------------------------------------------------------------------

@given(layers_strategy)
@settings(max_examples=25, deadline=None)
def test_pair_weight_sum_matches_the_enumerated_weights(layers):
    expected = mn.MLA(layers).pair_weights().sum()
    assert float(symbolic.pair_weight_sum(layers)) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    general = symbolic.Formula(symbolic.pair_weight_sum(len(layers)))
    assert general.evaluate(layers) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("layers", [[(2, 0.5)], [(3, 0.5), (2, 0.25)]])
@pytest.mark.parametrize("cycles", [1, 2, 3])
def test_epoch_pair_weight_sum_is_one_more_level(layers, cycles):
    # N cycles of an epoch meet through the slow weights: an outer layer (N, 1) enumerates them.
    expected = mn.MLA(layers + [(cycles, 1.0)]).pair_weights().sum()
    epoch = symbolic.Formula(symbolic.pair_weight_sum(len(layers), N_CYCLES))
    assert epoch.evaluate(layers, N=cycles) == pytest.approx(expected)


# ---- modified loss: anchors ------------------------------------------------------------------

def test_sgd_anchors():
    # Barrett & Dherin: eta/4; Smith et al.: c_g = c_v = eta/4 for any number of batches.
    assert sp.simplify(symbolic.full_batch_coefficient([]).expr - ETA / 4) == 0
    c_g, c_v = symbolic.reshuffled_coefficients([])
    assert sp.simplify(c_g.expr - ETA / 4) == 0 and sp.simplify(c_v.expr - ETA / 4) == 0


@pytest.mark.parametrize("n", [1, 2, 3])
def test_all_k_one_is_sgd_at_lr_eta_P(n):
    layers = symbolic.layer_symbols(n)
    P = symbolic.weight_product(layers)
    ones = {k: 1 for k, _ in layers}
    assert sp.simplify(symbolic.full_batch_coefficient(n).expr.subs(ones) - ETA * P / 4) == 0
    for c in symbolic.reshuffled_coefficients(n):
        assert sp.simplify(c.expr.subs(ones) - ETA * P / 4) == 0


@pytest.mark.parametrize("n", [1, 2, 3])
def test_all_alpha_one_is_sgd(n):
    ones = {alpha: 1 for _, alpha in symbolic.layer_symbols(n)}
    assert sp.simplify(symbolic.full_batch_coefficient(n).expr.subs(ones) - ETA / 4) == 0
    for c in symbolic.reshuffled_coefficients(n):
        assert sp.simplify(c.expr.subs(ones) - ETA / 4) == 0


def test_symbolic_and_numeric_layers_agree():
    layers = [(5, 0.5), (5, 0.5)]
    general = symbolic.full_batch_coefficient(2)
    assert general.evaluate(layers, eta=0.1) == pytest.approx(symbolic.full_batch_coefficient(layers).evaluate(eta=0.1))
    assert "alpha_{1}" in general.latex()


# ---- modified loss: independent second-order expansions ----------------------------------------

@pytest.mark.parametrize("layers", [[(3, 0.5)], [(2, 0.5), (3, 0.25)], [(2, 0.6), (1, 0.5), (2, 0.8)]])
def test_full_batch_expansion_of_the_twin_recursion(layers):
    # Run the twin's recursive S_n on the model f'(x) = g + h (x - phi), which is exact to the
    # order that matters, and read lambda off the eta^2 term: phi' - phi = -tau g + (tau^2/2 -
    # 2 tau lambda) h g with tau = eta P K.
    g, h, phi = sp.symbols("g h phi")
    layers_exact = [(k, sp.nsimplify(a)) for k, a in layers]
    end = naive.nested_iteration(phi, layers_exact, lambda x: x - ETA * (g + h * (x - phi)))
    second = sp.expand(end).coeff(ETA, 2).coeff(h).coeff(g)
    K, P = symbolic.cycle_length(layers_exact), symbolic.weight_product(layers_exact)
    tau = ETA * P * K
    lam = symbolic.full_batch_coefficient(layers).expr
    assert sp.simplify(second * ETA ** 2 - (tau ** 2 / 2 - 2 * tau * lam)) == 0


@pytest.mark.parametrize("layers, cycles", [([(2, 0.5)], 1), ([(2, 0.5)], 2), ([(2, 0.5), (2, 0.25)], 1)])
def test_reshuffled_expansion_over_all_orders(layers, cycles):
    # Components f_a'(x) = g_a + h_a (x - phi); average the twin's epoch over all m! orders.
    K = int(np.prod([k for k, _ in layers]))
    m = cycles * K
    g, h = sp.symbols(f"g0:{m}"), sp.symbols(f"h0:{m}")
    phi = sp.Symbol("phi")
    layers_exact = [(k, sp.nsimplify(a)) for k, a in layers] + [(cycles, 1)]
    total = 0
    for order in itertools.permutations(range(m)):
        visits = iter(order)

        def step(x, visits=visits):
            a = next(visits)
            return x - ETA * (g[a] + h[a] * (x - phi))
        total += naive.nested_iteration(phi, layers_exact, step)
    mean = sp.expand(total / sp.factorial(m))
    # Prediction from the modified loss: the flow of f + c_g ||f'||^2 + c_v V for tau = eta P m.
    c_g, c_v = (c.subs(layers, N=cycles).expr for c in symbolic.reshuffled_coefficients(len(layers)))
    P = symbolic.weight_product(layers_exact)
    tau = ETA * P * m
    S_g, S_h = sum(g), sum(h)
    S_hg = sum(ha * ga for ha, ga in zip(h, g, strict=True))
    grad_norm_grad = 2 * S_h * S_g / m ** 2
    variance_grad = 2 * S_hg / m - 2 * S_h * S_g / m ** 2
    predicted = phi - tau * (S_g / m + c_g * grad_norm_grad + c_v * variance_grad) + tau ** 2 / 2 * S_h * S_g / m ** 2
    difference = sp.expand(mean - predicted)
    assert sp.simplify(difference.coeff(ETA, 1)) == 0 and sp.simplify(difference.coeff(ETA, 2)) == 0


# ---- NQM variance --------------------------------------------------------------------------

def test_one_layer_is_zhang_et_al_proposition_1():
    (k, alpha), = symbolic.layer_symbols(1)
    proposition = alpha ** 2 * (1 - BETA ** (2 * k)) / (
        alpha ** 2 * (1 - BETA ** (2 * k)) + 2 * alpha * (1 - alpha) * (1 - BETA ** k))
    assert sp.simplify(symbolic.variance_ratio(1).expr - proposition) == 0


def test_no_layer_is_sgd_variance():
    h, s = NQM_SYMBOLS["h"], NQM_SYMBOLS["s"]
    expected = ETA ** 2 * h ** 2 * s ** 2 / (1 - (1 - ETA * h) ** 2)
    assert sp.simplify(symbolic.steady_state_variance([]).expr - expected) == 0


@pytest.mark.parametrize("layers", [[(5, 0.5)], [(3, 0.5), (2, 0.7)], [(2, 0.5), (2, 0.5), (2, 0.5)]])
def test_closed_form_variance_matches_the_moment_recursion(layers):
    # Independent numeric computation: the exact covariance recursion (moments.py) run to its
    # steady state on one NQM coordinate.
    eta, h, s = 0.3, 0.8, 1.3
    objective = mn.objectives.noisy_quadratic(1, h=[h], s=[s])
    moments = mn.moments.quadratic_moments(objective, mn.MLA(layers, eta), 3000,
                                           oracle=mn.objectives.nqm_noise(objective), x0=[0.0])
    variance = 2 * moments.loss[-1] / h  # E f = h Var / 2 at mean zero
    closed = symbolic.steady_state_variance(len(layers)).evaluate(layers, eta=eta, h=h, s=s)
    assert closed == pytest.approx(variance, rel=1e-10)


# ---- convergence bound ----------------------------------------------------------------------

def test_bound_reduces_to_sgd():
    from mla_numeric.symbolic.bound import BOUND_SYMBOLS as B
    expected = 2 * B["Delta"] / (ETA * B["T"]) + 2 * B["L"] * ETA * B["sigma"] ** 2
    assert sp.simplify(symbolic.convergence_bound([]).expr - expected) == 0
    assert sp.simplify(symbolic.step_condition([]).expr - 2 * B["L"] * ETA) == 0


@pytest.mark.parametrize("layers", [[], [(5, 0.5)], [(5, 0.5), (5, 0.5)]])
def test_optimal_lr_minimises_the_bound_within_the_condition(layers):
    constants = dict(L=2.0, sigma=0.7, Delta=3.0, T=10_000)
    eta = symbolic.optimal_lr(layers, constants["L"], constants["sigma"], constants["Delta"], constants["T"])
    bound = symbolic.convergence_bound(len(layers))
    condition = symbolic.step_condition(len(layers))
    assert condition.evaluate(layers, eta=eta, L=2.0) <= 1 + 1e-12
    best = bound.evaluate(layers, eta=eta, **constants)
    for factor in (0.9, 0.99):
        assert best <= bound.evaluate(layers, eta=eta * factor, **constants)
    if condition.evaluate(layers, eta=eta * 1.01, L=2.0) <= 1:
        assert best <= bound.evaluate(layers, eta=eta * 1.01, **constants)
