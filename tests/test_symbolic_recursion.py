"""The recursions over the layers (mla_numeric.symbolic, theory/recursions.md) against independent
oracles, exactly: the pair weights enumerated from their definition, and the derivation the package
used before (sympy summation over the nesting, matching by ``sp.solve``, geometric sums by
``sp.summation``), kept here as a slow twin. Floats against mpmath at 50 digits."""
import json
import math
import random
import sys
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp

from mla_numeric import symbolic
from mla_numeric.symbolic import ETA, N_CYCLES
from mla_numeric.symbolic.nqm import NQM_SYMBOLS, stability_margin
from mla_numeric.symbolic.summary import RATIO_BETA, SHORT_EXPRESSION, derivation, nqm_variance

BETA, H, S = NQM_SYMBOLS["beta"], NQM_SYMBOLS["h"], NQM_SYMBOLS["s"]
ALPHAS = [sp.Rational(1, 4), sp.Rational(1, 3), sp.Rational(1, 2), sp.Rational(3, 5), sp.Rational(9, 10), 1]


def random_nestings(seed: int, count: int, max_steps: int = 24) -> list:
    """``count`` nestings with 0-3 layers, k_i in 1..4, exact alpha_i, K <= max_steps."""
    rng = random.Random(seed)
    nestings = []
    while len(nestings) < count:
        layers = [(rng.randint(1, 4), rng.choice(ALPHAS)) for _ in range(rng.randint(0, 3))]
        if math.prod(k for k, _ in layers) <= max_steps:
            nestings.append(layers)
    return nestings


# ---- oracles: the definition, and the old summation path -------------------------------------

def enumerated_weights(layers) -> dict:
    """{(j, l): d_jl} for j < l of one top-level cycle (0-based), from the definition: d_jl is the
    product of the alphas of the levels below the lowest one whose current cycle holds both."""
    K = math.prod(k for k, _ in layers)
    weights = {}
    for j in range(K):
        for l in range(j + 1, K):
            weight, block = sp.Integer(1), 1
            for k, alpha in layers:
                block *= k
                if j // block == l // block:
                    break
                weight *= alpha
            weights[j, l] = weight
    return weights


def summed_pair_weight_sum(layers, cycles=1):
    """D by summation: W_s = k_s W_{s-1} + sum_{a<b<=k_s} B_{s-1}^2 A_{s-1} (the package's old path)."""
    layers = symbolic.structure.as_layers(layers) + ([(sp.sympify(cycles), sp.Integer(1))] if cycles != 1 else [])
    a, b = sp.symbols("a b", integer=True, positive=True)
    within, steps, weight = sp.Integer(0), sp.Integer(1), sp.Integer(1)
    for k, alpha in layers:
        within = k * within + sp.summation(sp.summation(steps ** 2 * weight, (b, a + 1, k)), (a, 1, k))
        steps, weight = steps * k, weight * alpha
    return sp.factor(sp.simplify(within))


def matched_coefficients(layers, cycles=N_CYCLES) -> tuple:
    """(lambda, c_g, c_v) by matching the second-order terms of map and flow with ``sp.solve``."""
    layers = symbolic.structure.as_layers(layers)
    K, P = sp.Mul(*[k for k, _ in layers]), sp.Mul(*[alpha for _, alpha in layers])
    g, Hg, lam = sp.symbols("g Hg lambda")
    tau = ETA * P * K
    mismatch = sp.expand(-ETA * P * K * g + ETA ** 2 * P * summed_pair_weight_sum(layers) * Hg
                         - (-tau * (g + 2 * lam * Hg) + tau ** 2 / 2 * Hg))
    assert sp.simplify(mismatch.coeff(g)) == 0
    (full,) = sp.solve(mismatch.coeff(Hg), lam)
    m = cycles * K
    S_g, S_HS_g, S_Hg, c_g, c_v = sp.symbols("S_g S_HS_g S_Hg c_g c_v")
    tau = ETA * P * m
    epoch = -ETA * P * S_g + ETA ** 2 * P * summed_pair_weight_sum(layers, cycles) * (S_HS_g - S_Hg) / (m * (m - 1))
    flow = (-tau * (S_g / m + c_g * 2 * S_HS_g / m ** 2 + c_v * (2 * S_Hg / m - 2 * S_HS_g / m ** 2))
            + tau ** 2 / 2 * S_HS_g / m ** 2)
    mismatch = sp.expand(epoch - flow)
    assert sp.simplify(mismatch.coeff(S_g)) == 0
    solution = sp.solve([mismatch.coeff(S_HS_g), mismatch.coeff(S_Hg)], [c_g, c_v], dict=True)[0]
    return full, solution[c_g], solution[c_v]


def summed_nqm(layers) -> tuple:
    """(M_n, V_n / V_SGD) in beta from S_i = alpha_i^2 S_{i-1} sum_{r<k_i} M_{i-1}^(2r) by sympy
    summation, V = S_n (h s)^2 / (1 - M_n^2) (the package's old path)."""
    r = sp.Symbol("r", integer=True, nonnegative=True)
    M, weights = BETA, ETA ** 2
    for k, alpha in symbolic.structure.as_layers(layers):
        total = sp.summation(M ** (2 * r), (r, 0, k - 1))
        if isinstance(total, sp.Piecewise):  # the branch for ratio != 1
            total = next(value for value, condition in total.args if condition == sp.true)
        weights = alpha ** 2 * weights * total
        M = 1 - alpha + alpha * M ** k
    return M, weights / ETA ** 2 * (1 - BETA ** 2) / (1 - M ** 2)


# ---- the structure: E, D, D_e ------------------------------------------------------------------

@pytest.mark.parametrize("layers", random_nestings(seed=1, count=40))
def test_partner_and_pair_sums_equal_the_enumerated_weights(layers):
    weights = enumerated_weights(layers)
    K = math.prod(k for k, _ in layers)
    partners = [sum(w for (j, l), w in weights.items() if step in (j, l)) for step in range(K)]
    E = symbolic.partner_weight_sum(layers)
    assert all(total == E for total in partners)  # the same for every step
    assert symbolic.pair_weight_sum(layers) == sum(weights.values())
    for cycles in (2, 3):
        assert symbolic.pair_weight_sum(layers, cycles) == sum(enumerated_weights(layers + [(cycles, 1)]).values())


@pytest.mark.parametrize("layers", random_nestings(seed=2, count=30, max_steps=12))
def test_coefficients_equal_the_summation_path(layers):
    cycles = 2 + len(layers) % 2  # N = 2, 3: m > 1, so c_v is defined
    lam, c_g, c_v = matched_coefficients(layers, cycles)
    assert symbolic.pair_weight_sum(layers) == summed_pair_weight_sum(layers)
    assert symbolic.pair_weight_sum(layers, cycles) == summed_pair_weight_sum(layers, cycles)
    assert symbolic.full_batch_coefficient(layers).expr == lam
    got_g, got_v = symbolic.reshuffled_coefficients(layers, cycles)
    assert (got_g.expr, got_v.expr) == (c_g, c_v)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_symbolic_layers_equal_the_summation_path(n):
    assert sp.simplify(symbolic.pair_weight_sum(n) - summed_pair_weight_sum(n)) == 0
    assert sp.simplify(symbolic.pair_weight_sum(n, N_CYCLES) - summed_pair_weight_sum(n, N_CYCLES)) == 0
    lam, c_g, c_v = matched_coefficients(n)
    got_g, got_v = symbolic.reshuffled_coefficients(n)
    assert sp.simplify(symbolic.full_batch_coefficient(n).expr - lam) == 0
    assert sp.simplify(got_g.expr - c_g) == 0 and sp.simplify(got_v.expr - c_v) == 0


@pytest.mark.parametrize("layers", random_nestings(seed=3, count=10, max_steps=12))
def test_numeric_layers_are_the_symbolic_recursion_substituted(layers):
    n, cycles = len(layers), 2
    pairs = [(symbolic.full_batch_coefficient(n), symbolic.full_batch_coefficient(layers)),
             *zip(symbolic.reshuffled_coefficients(n, cycles), symbolic.reshuffled_coefficients(layers, cycles),
                  strict=True)]
    for general, numeric in pairs:
        assert sp.simplify(general.subs(layers).expr - numeric.expr) == 0
    general = symbolic.Formula(symbolic.partner_weight_sum(n))
    assert general.subs(layers).expr == symbolic.partner_weight_sum(layers)


# ---- anchors ----------------------------------------------------------------------------------

def test_lookahead_and_two_layer_anchors():
    # theory/implicit_regularization.md's table; Barrett & Dherin and Smith et al. at n = 0.
    k, alpha = sp.symbols("k alpha", positive=True)
    N = N_CYCLES
    expected = {
        0: (ETA / 4, ETA / 4),
        1: (ETA * (1 - k * (1 - alpha)) / 4, ETA * (N * alpha * k - alpha * k + k - 1) / (4 * (N * k - 1))),
        2: (ETA * (alpha ** 2 * k ** 2 - alpha * k ** 2 + alpha * k - k + 1) / 4,
            ETA * (N * alpha ** 2 * k ** 2 - alpha ** 2 * k ** 2 + alpha * k ** 2 - alpha * k + k - 1)
            / (4 * (N * k ** 2 - 1))),
    }
    for n, (lam, c_v) in expected.items():
        layers = [(k, alpha)] * n
        got_g, got_v = symbolic.reshuffled_coefficients(layers)
        assert sp.simplify(symbolic.full_batch_coefficient(layers).expr - lam) == 0
        assert sp.simplify(got_g.expr - lam) == 0 and sp.simplify(got_v.expr - c_v) == 0


def test_paper_setting_by_hand():
    # (5, 1/2), (5, 1/2): E = 4 + (1/2) 5 4 = 14, D = 25 E / 2 = 175, lambda / eta = (25/4 - 14) / 4.
    layers = [(5, 0.5), (5, 0.5)]
    assert symbolic.partner_weight_sum(layers) == 14 and symbolic.pair_weight_sum(layers) == 175
    assert symbolic.full_batch_coefficient(layers).expr == -sp.Rational(31, 16) * ETA
    # an epoch of N = 2 cycles: E_e = 14 + (1/4) 25 = 81/4, c_v = eta E_e / (4 (50 - 1)) = 81 eta / 784.
    assert symbolic.reshuffled_coefficients(layers, 2)[1].expr == sp.Rational(81, 784) * ETA


def test_float_alphas_are_their_decimal_rationals():
    layers = [(2, 0.6211), (3, 0.9999999999)]
    assert symbolic.weight_product(layers) == sp.Rational(6211, 10 ** 4) * sp.Rational(9999999999, 10 ** 10)
    with pytest.raises(ValueError, match="c_v is undefined"):
        symbolic.reshuffled_coefficients([(1, 0.5)], 1)


# ---- NQM: the nested product against the summation path --------------------------------------

@pytest.mark.parametrize("layers", random_nestings(seed=4, count=20, max_steps=16))
def test_nqm_product_equals_the_summation_path(layers):
    M_old, ratio_old = summed_nqm(layers)
    M_new, ratio_new = symbolic.contraction(layers).expr, symbolic.variance_ratio(layers).expr
    for beta in (sp.Rational(-7, 10), sp.Rational(1, 3), sp.Rational(19, 20)):
        assert M_new.subs(BETA, beta) == M_old.subs(BETA, beta)
        assert ratio_new.subs(BETA, beta) == ratio_old.subs(BETA, beta)
    V_old = ratio_old.subs(BETA, 1 - ETA * H) * ETA ** 2 * H ** 2 * S ** 2 / (1 - (1 - ETA * H) ** 2)
    point = {ETA: sp.Rational(3, 10), H: sp.Rational(4, 5), S: sp.Rational(13, 10)}
    assert symbolic.steady_state_variance(layers).expr.subs(point) == V_old.subs(point)


def test_symbolic_nqm_equals_the_summation_path():
    for n in (1, 2):
        M_old, ratio_old = summed_nqm(n)
        assert sp.simplify(symbolic.contraction(n).expr - M_old) == 0
        assert sp.simplify(symbolic.variance_ratio(n).expr - ratio_old) == 0


# ---- the issue's examples: at once, and equal to the summation path ---------------------------

@pytest.mark.parametrize("layers, cycles", [
    ([(20, 0.5), (20, 0.5)], 1), ([(10, 0.5), (10, 0.5)], 1), ([(3, 0.5)] * 4, 1),
    ([(4, 0.37), (6, 0.1), (5, 0.9)], 2), ([(10, 0.5)] * 3, 1),
])
def test_derivation_of_the_issue_examples(layers, cycles):
    result = derivation(layers, cycles)
    lam, c_g, c_v = matched_coefficients(layers, cycles)
    assert result["pair_weight_sum"]["expr"] == str(summed_pair_weight_sum(layers))
    assert result["epoch_pair_weight_sum"]["expr"] == str(summed_pair_weight_sum(layers, cycles))
    assert result["full_batch"]["lambda_over_eta"]["expr"] == str(lam / ETA)
    assert result["reshuffled"]["c_grad_over_eta"]["expr"] == str(c_g / ETA)
    assert result["reshuffled"]["c_var_over_eta"]["expr"] == str(c_v / ETA)
    with mpmath.workdps(50):
        exact_ratio = mp_nqm(layers, mpmath.mpf(RATIO_BETA))[2]
    assert result["nqm"]["variance_ratio_at"]["value"] == pytest.approx(float(exact_ratio), rel=1e-13)


def test_nqm_variance_of_the_issue_example():
    # mla-check nqm-variance --layers 6:0.274,4:0.812,6:0.172,6:0.494 --lr 0.05 --curvature 3 --noise 1:
    # beta = 17/20; the definition's S_n / (1 - M_n^2) at 50 digits (mp_nqm, below).
    layers = [(6, 0.274), (4, 0.812), (6, 0.172), (6, 0.494)]
    result = nqm_variance(layers, 0.05, 3.0, 1.0)
    with mpmath.workdps(50):
        ratio = mp_nqm(layers, mpmath.mpf(17) / 20)[2]
    sgd = 0.15 ** 2 / (1 - 0.85 ** 2)
    assert result["ratio"] == pytest.approx(float(ratio), rel=1e-13)
    assert result["variance_sgd"] == pytest.approx(sgd, rel=1e-14)
    assert result["variance"] == pytest.approx(float(ratio) * sgd, rel=1e-13)


def test_long_ratio_expressions_only_when_asked():
    short, long = derivation([(5, 0.5)]), derivation([(6, 0.274), (4, 0.812), (6, 0.172), (6, 0.494)])
    assert "beta" in short["nqm"]["variance_ratio_expr"] and "note" not in short["nqm"]
    assert long["nqm"]["variance_ratio_expr"] is None and "--expression" in long["nqm"]["note"]
    asked = derivation([(6, 0.274), (4, 0.812), (6, 0.172), (6, 0.494)], expression=True)
    assert len(asked["nqm"]["variance_ratio_expr"]) >= SHORT_EXPRESSION
    assert asked["nqm"]["variance_ratio_at"] == long["nqm"]["variance_ratio_at"]


def test_a_million_steps_a_cycle():
    result = derivation([(1000, 0.5), (1000, 0.5)], 3)
    # E = 999 + 1000 999 / 2, D = K E / 2, lambda / eta = (K / 4 - E) / 4 with K = 10^6.
    E = 999 + sp.Rational(1000 * 999, 2)
    assert result["pair_weight_sum"]["expr"] == str(10 ** 6 * E / 2)
    assert result["full_batch"]["lambda_over_eta"]["expr"] == str((sp.Rational(10 ** 6, 4) - E) / 4)
    # beta^K = (1 - 10^-7)^(10^6) ~ exp(-0.1): the float beta alone would keep 10 digits of it
    with mpmath.workdps(50):
        ratio = mp_nqm([(10 ** 6, 0.5)], 1 - mpmath.mpf(1e-7))[2]
    assert nqm_variance([(10 ** 6, 0.5)], 1e-7, 1.0, 1.0)["ratio"] == pytest.approx(float(ratio), rel=1e-14)


def test_one_batch_an_epoch():
    # m = N K = 1: V = 0 and c_v is undefined; c_g = lambda = eta P / 4 (k = 1 is SGD at eta P).
    result = derivation([(1, 0.5)], 1)
    assert result["reshuffled"]["c_var_over_eta"]["value"] is None and "note" in result["reshuffled"]
    assert result["reshuffled"]["c_grad_over_eta"] == result["full_batch"]["lambda_over_eta"] == \
        {"expr": "1/8", "value": 0.125}


# ---- floats against mpmath at 50 digits ---------------------------------------------------------

def mp_nqm(layers, beta):
    """(M_n, 1 - |M_n|, V_n / V_SGD) at 50 digits from M_0 = ``beta`` (computed at 50 digits too) by
    the definition's S_n / (1 - M_n^2) form, not the nested product; alpha_i the rationals of their
    decimal form."""
    with mpmath.workdps(50):
        M, weights = beta, mpmath.mpf(1)
        for k, alpha in layers:
            alpha = sp.Rational(repr(alpha))
            alpha, x = mpmath.mpf(alpha.p) / alpha.q, M ** k
            weights *= alpha ** 2 * (1 - x ** 2) / (1 - M ** 2)
            M = 1 - alpha + alpha * x
        return M, 1 - abs(M), weights * (1 - beta ** 2) / (1 - M ** 2)


def random_float_inputs(seed: int, count: int) -> list:
    """(layers, eta h): alpha near 1 (1 - 10^-U(1, 12)) or anywhere in [0.05, 1), eta h from 1e-12
    to 1.99, k from 1 to 999 (log-uniform), 1-4 layers."""
    rng = random.Random(seed)
    inputs = []
    for _ in range(count):
        layers = [(int(10 ** rng.uniform(0, 3)),
                   1 - 10 ** -rng.uniform(1, 12) if rng.random() < 0.5 else rng.uniform(0.05, 1.0))
                  for _ in range(rng.randint(1, 4))]
        eta_h = 10 ** -rng.uniform(0, 12) if rng.random() < 0.6 else rng.uniform(1e-3, 1.99)
        inputs.append((layers, eta_h))
    return inputs


def relative_error(got, exact) -> float:
    with mpmath.workdps(50):
        return float(abs((mpmath.mpf(float(got)) - exact) / exact))


@pytest.mark.parametrize("layers, eta_h", random_float_inputs(seed=5, count=200))
def test_float_evaluation_keeps_its_digits(layers, eta_h):
    # In eta h (variance, margin) the exact eta h; in beta (ratio, contraction) the float beta, which
    # already lost eta h's low digits: each against the exact value at its own input.
    beta = 1 - eta_h
    with mpmath.workdps(50):
        _, margin, ratio = mp_nqm(layers, 1 - mpmath.mpf(eta_h))
        variance = ratio * mpmath.mpf(eta_h) / (2 - mpmath.mpf(eta_h))  # V_SGD = eta h s^2 / (2 - eta h), s = 1
        M, _, ratio = mp_nqm(layers, mpmath.mpf(beta))
    assert relative_error(symbolic.steady_state_variance(layers).evaluate(eta=eta_h, h=1.0, s=1.0), variance) < 1e-12
    assert relative_error(stability_margin(layers, eta_h), margin) < 1e-12
    assert relative_error(symbolic.variance_ratio(layers).evaluate(beta=beta), ratio) < 1e-12
    if beta >= 0 and abs(M) > 1e-280:  # M_n >= 0 is a sum of nonnegative terms; M_n < 0 may cancel
        assert relative_error(symbolic.contraction(layers).evaluate(beta=beta), M) < 1e-12


def test_alpha_one_keeps_beta_to_the_K():
    # The checks' per-call contraction at alpha = 1: M_2 = beta^(k^2), here 0.2^25 ~ 3e-18, which
    # 1 - alpha + alpha M^k as written rounds to 0.
    beta = np.array([0.2, 0.5, 0.98])
    got = symbolic.contraction(2).numpy(beta=beta, k_1=5.0, k_2=5.0, alpha_1=1.0, alpha_2=1.0)
    assert np.allclose(got / beta ** 25, 1.0, rtol=1e-13, atol=0)


def test_vectorised_evaluation_equals_the_scalar_one():
    k, alpha, e = np.meshgrid([2.0, 5.0], [0.3, 1.0], [0.01, 1.0, 1.97], indexing="ij")
    values = {"beta": 1 - e, "k_1": k, "k_2": k, "alpha_1": alpha, "alpha_2": alpha}
    grid = symbolic.variance_ratio(2).numpy(**values)
    for index in np.ndindex(k.shape):
        scalar = symbolic.variance_ratio([(k[index], alpha[index])] * 2).evaluate(beta=1 - e[index])
        assert grid[index] == pytest.approx(scalar, rel=1e-14)


# ---- the command line over the recursions (issue 13: instant answers; issue 17: right answers) --------

def test_derive_prints_a_long_expression_only_when_asked(capsys):
    from mla_numeric.cli import main

    layers = ["--layers", "6:0.274,4:0.812,6:0.172,6:0.494"]
    assert main(["derive", *layers, "--json"]) == 0
    nqm = json.loads(capsys.readouterr().out)["nqm"]
    assert nqm["variance_ratio_expr"] is None and "--expression" in nqm["note"]
    assert main(["derive", *layers, "--expression", "--json"]) == 0
    assert "beta" in json.loads(capsys.readouterr().out)["nqm"]["variance_ratio_expr"]


def test_nqm_variance_answers_where_lookahead_contracts_and_sgd_does_not(capsys):
    from mla_numeric.checks.nqm import exact_variance
    from mla_numeric.cli import main

    assert main(["nqm-variance", "--layers", "5:0.1", "--lr", "2.5", "--curvature", "1", "--noise", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["variance"] == pytest.approx(exact_variance(((5, 0.1),), 2.5, np.ones(1), np.ones(1))[0], rel=1e-12)
    assert result["ratio"] is None and "SGD at lr 2.5 has no steady state" in result["note"]


# ---- the NQM where the double range ends: eta h = 2, tiny eta h, huge h and s ---------------------
# The reference is the definition by summation, S_i = alpha_i^2 S_{i-1} sum_{r<k_i} M_{i-1}^(2r) and
# V = S_n (h s)^2 / (1 - M_n^2) (theory/recursions.md §3), at enough digits that eta h keeps 60 of its
# own: it has neither the closed form's removable singularity at beta = -1 nor its algebra, and its
# relative error (sums of positive terms, one subtraction 1 - M_n^2 at 60 spare digits) is below
# ORACLE, which the comparisons add to the float bound below.

U = 2.0 ** -53  # unit roundoff
ORACLE = 1e-40  # relative error of mp_definition


def mp_definition(layers, eta_h):
    """(V, V_SGD, V / V_SGD, ys, kappas) at h = s = 1 by summation, or None where |M_n| >= 1;
    ys[i] = k_i log|M_{i-1}| and kappas[i] the condition of 1 + M_i as a sum (for the bound)."""
    with mpmath.workdps(60 + max(0, -math.floor(math.log10(eta_h)))):
        e = mpmath.mpf(eta_h)
        M, W, ys, kappas = 1 - e, mpmath.mpf(1), [], []
        for k, alpha in layers:
            alpha = sp.Rational(repr(alpha))
            alpha = mpmath.mpf(alpha.p) / alpha.q
            ys.append(float(k * mpmath.log(abs(M))) if M != 0 else math.inf)
            W = alpha ** 2 * W * mpmath.fsum(M ** (2 * r) for r in range(k))
            x = M ** k
            M = 1 - alpha + alpha * x
            kappas.append(float((2 * (1 - alpha) + alpha * abs(1 + x)) / abs(1 + M)) if M != -1 else math.inf)
        if abs(M) >= 1:
            return None
        sgd = e / (2 - e) if e != 2 else mpmath.inf  # e^2 / (1 - (1 - e)^2)
        return W * e ** 2 / (1 - M ** 2), sgd, W * (1 - (1 - e) ** 2) / (1 - M ** 2), ys, kappas


def float_error_bound(layers, ys, kappas) -> tuple:
    """First-order bounds on the relative errors of (V, V_SGD, V / V_SGD) as ``nqm_variance``
    computes them (symbolic/nqm.py), for eta h exact in floats (h a power of 2), each alpha_i and
    1 - alpha_i rounded once (u / 2), every other operation once (u = 2^-53), log1p, log, exp and
    expm1 within one ulp (2 u), products and quotients of (mantissa, exponent) pairs once each:

    - 1 - M_0 = eta h is exact; 1 + M_0 = 2 - eta h and M_0 rounded once: eps_0 = u.
    - Layer i, y_i = k_i log|M_{i-1}|: log|M| has relative error <= eps_{i-1} / ln 2 + 2 u (the
      condition of log1p(-d) for d <= 1/2, and of log|M| for |M| <= 1/2, is at most 1 / ln 2; where
      M_{i-1} < 0 cancels, |M| <= 1/2 and its absolute error gives the same bound); k log|M| adds u,
      exp and expm1 have conditions |y| and 1 + |y|, so 1 - x_i and 1 + x_i have relative error
      rho_i = (1 + |y_i|) (eps_{i-1} / ln 2 + 3 u) + 3 u.
    - 1 - M_i = alpha_i (1 - x_i): rho_i + 1.5 u; 1 + M_i = 2 (1 - alpha_i) + alpha_i (1 + x_i):
      kappa_i (rho_i + 1.5 u) + u, kappa_i = (2 (1 - alpha_i) + alpha_i |1 + x_i|) / |1 + M_i| (1
      unless 1 + x_i < 0), so eps_i = kappa_i (rho_i + 1.5 u) + u.
    - V / V_SGD = prod over alpha_i < 1 of alpha_i (1 + x_i) / (1 + M_i): rho_i + eps_i + 3.5 u each.
    - V = eta h s^2 prod_i alpha_i g_i / (1 + M_n), g_i = (1 + x_i) / (1 + M_{i-1}) (or its limit
      k_i, exact): 3 u, then rho_i + eps_{i-1} + 3.5 u each, then eps_n + 2 u.
    - V_SGD = eta h s^2 / (2 - eta h): 3 u + eps_0 + u.

    Second-order terms are below the square of the bound (< 1e-20 here)."""
    eps, ratio, variance = U, 0.0, 5 * U
    for (_, alpha), y, kappa in zip(layers, ys, kappas, strict=True):
        rho = (1 + (abs(y) if math.isfinite(y) else 0.0)) * (eps / math.log(2) + 3 * U) + 3 * U
        new = kappa * (rho + 1.5 * U) + U
        ratio += rho + new + 3.5 * U if alpha != 1 else 0.0
        variance += rho + eps + 3.5 * U
        eps = new
    return variance + eps, 5 * U, ratio


def assert_valid_json(result) -> None:
    assert all(value is None or math.isfinite(value) for key, value in result.items() if key != "note")
    json.dumps(result, allow_nan=False)


def assert_close(got, exact, bound, note="") -> None:
    """|got - exact| <= (bound + ORACLE) exact, plus half the subnormal spacing 2^-1074 below the normal range,
    where the note must say so (``exact`` at 60 digits)."""
    with mpmath.workdps(60):
        assert abs(mpmath.mpf(got) - exact) <= (bound + ORACLE) * exact + mpmath.mpf(2) ** -1075, (got, exact, bound)
    if exact < sys.float_info.min:
        assert "below the double range" in note


def check_against_definition(layers, lr, h=1.0, s=1.0) -> dict:
    """nqm_variance against the definition at eta h = lr h (exact: h and s are powers of 2), every
    value within its bound, valid JSON, no warning; the result."""
    assert lr * h == mpmath.mpf(lr) * mpmath.mpf(h)
    V, sgd, ratio, ys, kappas = mp_definition(layers, lr * h)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = nqm_variance(layers, lr, h, s)
    assert_valid_json(result)
    bound_V, bound_sgd, bound_ratio = float_error_bound(layers, ys, kappas)
    note = result.get("note", "")
    assert_close(result["variance"], V * mpmath.mpf(s) ** 2, bound_V, note)
    if lr * h < 2:
        assert_close(result["variance_sgd"], sgd * mpmath.mpf(s) ** 2, bound_sgd, note)
        assert_close(result["ratio"], ratio, bound_ratio, note)
    else:
        assert result["variance_sgd"] is None and result["ratio"] is None and "SGD at lr" in note
    return result


@pytest.mark.parametrize("layers", [[(5, 0.5)], [(3, 0.25)], [(1, 0.5)], [(5, 1.0), (3, 0.5)],
                                    [(3, 0.5), (5, 0.75)], [(3, 1.0), (5, 1.0), (3, 0.5)]])
def test_nqm_variance_at_eta_h_two(layers):
    # beta = -1: V_SGD is infinite and the first factor with alpha < 1 is 0 (the old code: NaN). The
    # moment recurrence at lr 2 and alpha in {1/4, 1/2, 3/4, 1} works on dyadic rationals of a few
    # bits: its fixed point rounds at most K + 2 times (the sum of K squares, 1 - M^2, the quotient).
    from mla_numeric.checks.nqm import exact_variance

    result = check_against_definition(layers, 2.0)
    K = math.prod(k for k, _ in layers)
    ys, kappas = mp_definition(layers, 2.0)[3:]
    recurrence = float(exact_variance(tuple(layers), 2.0, np.ones(1), np.ones(1))[0])
    assert abs(result["variance"] - recurrence) <= (float_error_bound(layers, ys, kappas)[0] + (K + 2) * U) * recurrence
    if layers == [(5, 0.5)]:
        assert result["variance"] == 5.0  # the reviewer's exact_variance(((5, 0.5),), 2.0, [1], [1])


def test_nqm_variance_formulas_at_beta_minus_one():
    # the Formula paths too: finite V at eta h = 2, and V / V_SGD = 0 (not 0 / 0) after layers with alpha = 1
    layers = [(5, 1.0), (3, 0.5)]
    V = mp_definition(layers, 2.0)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = symbolic.steady_state_variance(layers).evaluate(eta=2.0, h=1.0, s=1.0)
        in_beta = symbolic.steady_state_variance(layers, in_beta=True).evaluate(eta=2.0, h=1.0, s=1.0, beta=-1.0)
        ratio = symbolic.variance_ratio(layers).evaluate(beta=-1.0)
    bound = float_error_bound(layers, *mp_definition(layers, 2.0)[3:])[0]
    assert_close(got, V, bound)
    assert_close(in_beta, V, bound + 2 * U)  # (eta h s)^2 / (1 - beta): two more roundings
    assert ratio == 0.0


@pytest.mark.parametrize("eta_h", [2 - 2.0 ** -52, 2 - 2.0 ** -30, 2 - 2.0 ** -10, 2 + 2.0 ** -52,
                                   2 + 2.0 ** -30, 2 + 2.0 ** -10, 2.2, 2.5, 2.8])
def test_nqm_variance_near_eta_h_two(eta_h):
    # (5, 1/2) contracts up to eta h = 1 + 3^(1/5) = 2.2457, (5, 1/10) up to 1 + 19^(1/5) = 2.8027
    if eta_h < 2.24:
        check_against_definition([(5, 0.5)], eta_h)
    check_against_definition([(5, 0.1)], eta_h)


def test_nqm_variance_at_the_edge_of_lookahead_stability():
    # M_1 = 0.9 + 0.1 (1 - eta h)^5 = -1 at eta h = 1 + 19^(1/5): V grows as 1 / (1 + M_1), and
    # kappa_1 = (2 (1 - alpha) + alpha |1 + x|) / (1 + M_1) carries that condition into the bound.
    edge = float(1 + mpmath.root(19, 5))
    for eta_h in (edge - 1e-6, edge - 1e-12):
        check_against_definition([(5, 0.1)], eta_h)
    with pytest.raises(ValueError, match="no steady state"):
        nqm_variance([(5, 0.1)], edge + 1e-12, 1.0, 1.0)


@pytest.mark.parametrize("lr, h", [(1e-170, 1.0), (1.0, 2.0 ** -565), (2.0 ** -1074, 1.0), (1e-12, 1.0)])
def test_nqm_variance_at_tiny_eta_h(lr, h):
    # the old code squared eta h s (1e-340 -> 0) and divided by the SGD variance: ZeroDivisionError
    result = check_against_definition([(5, 0.5)], lr, h)
    assert ("note" in result) == (lr * h == 2.0 ** -1074)  # V_SGD = eta h / 2 below the double range
    check_against_definition([(6, 0.274), (4, 0.812), (6, 0.172), (6, 0.494)], lr, h)


def test_nqm_variance_where_only_the_ratio_is_representable():
    # eta h = 1e-170 and s = 2^-600: V ~ 1e-170 2^-1200 lies below the double range; the ratio does not
    layers = [(5, 0.5), (5, 0.5)]
    V, sgd, ratio, ys, kappas = mp_definition(layers, 1e-170)
    result = nqm_variance(layers, 1e-170, 1.0, 2.0 ** -600)
    assert_valid_json(result)
    assert result["variance"] == 0.0 and result["variance_sgd"] == 0.0
    assert "V = " in result["note"] and "below the double range" in result["note"]
    assert_close(result["ratio"], ratio, float_error_bound(layers, ys, kappas)[2])
    # the stated decimal value: V = (value at s = 1) * 2^-1200, to the 4 digits printed
    with mpmath.workdps(60):
        stated = mpmath.mpf(result["note"].split("V = ")[1].split(" ")[0])
        assert abs(stated / (V * mpmath.mpf(2) ** -1200) - 1) <= 5e-4


def test_nqm_variance_where_the_product_eta_h_underflows():
    # eta = h = 2^-600: eta h = 2^-1200 rounds to 0, yet 0 < eta h < 2 has a steady state (the old
    # code: "no steady state"); with s = 2^600, V = 2^-1200 2^1200 P / 2 (1 + O(K eta h)).
    for layers in ([(5, 0.5)], [(5, 0.5), (3, 0.25)]):
        result = nqm_variance(layers, 2.0 ** -600, 2.0 ** -600, 2.0 ** 600)
        assert_valid_json(result)
        P = math.prod(alpha for _, alpha in layers)  # dyadic: the limit is exact
        assert (result["variance"], result["variance_sgd"], result["ratio"]) == (P / 2, 0.5, P)


@pytest.mark.parametrize("eta_h", [0.1, 1.0, 1.9, 2.0, 2.2])
def test_nqm_variance_with_huge_curvature_and_noise(eta_h):
    # h = 2^1000 and s = 2^500 (eta = eta h 2^-1000 exactly): V ~ eta h s^2 ~ 1e301. The old code
    # squared eta h s and returned inf or nan.
    check_against_definition([(5, 0.5)], eta_h * 2.0 ** -1000, 2.0 ** 1000, 2.0 ** 500)
    with pytest.raises(ValueError, match="beyond the double range .*V = "):
        nqm_variance([(5, 0.5)], eta_h * 2.0 ** -1000, 2.0 ** 1000, 2.0 ** 520)


def random_edge_inputs(seed: int, count: int) -> list:
    """(layers, eta h, h, s): nestings as random_float_inputs, eta h tiny (down to 1e-300), near 2
    on either side, in (2, 3) where Lookahead may contract and SGD does not, or anywhere in (0, 2);
    h from 2^-900 to 2^900 (lr = eta h / h a normal double) and s from 2^-560 to 2^560, powers of
    2, so that the values fall below, inside and above the double range."""
    rng = random.Random(seed)
    inputs = []
    for _ in range(count):
        layers = [(int(10 ** rng.uniform(0, 2.5)), rng.choice([0.5, 0.25, 1.0, rng.uniform(0.05, 1.0),
                                                              1 - 10 ** -rng.uniform(1, 12)]))
                  for _ in range(rng.randint(1, 3))]
        kind = rng.randrange(5)
        eta_h = [10 ** -rng.uniform(0, 300), 2 - 2.0 ** -rng.randint(1, 52), 2 + 2.0 ** -rng.randint(1, 52),
                 rng.uniform(2, 3), rng.uniform(0, 2)][kind]
        low, high = max(-900, math.frexp(eta_h)[1] - 1020), min(900, math.frexp(eta_h)[1] + 1020)
        inputs.append((layers, eta_h, 2.0 ** rng.randint(low, high), 2.0 ** rng.randint(-560, 560)))
    return inputs


@pytest.mark.parametrize("layers, eta_h, h, s", random_edge_inputs(seed=6, count=80))
def test_nqm_variance_at_random_points(layers, eta_h, h, s):
    reference = mp_definition(layers, eta_h)
    lr = eta_h / h
    if reference is None:
        with pytest.raises(ValueError, match="no steady state"):
            nqm_variance(layers, lr, h, s)
        return
    V, sgd, ratio = reference[:3]
    if max(V, sgd if eta_h < 2 else 0) * mpmath.mpf(s) ** 2 >= 2 ** 1024:
        with pytest.raises(ValueError, match="beyond the double range"):
            nqm_variance(layers, lr, h, s)
        return
    check_against_definition(layers, lr, h, s)


# ---- the command line at those points (the reviewer's three commands) ----------------------------

@pytest.mark.parametrize("lr, curvature, noise", [("1e-170", "1", "1"), ("1", "1e-170", "1"), ("0.1", "1", "1e-170"),
                                                  ("2", "1", "1"), ("1e-200", "1e-200", "1e200")])
def test_nqm_variance_command_answers_at_the_edges(capsys, lr, curvature, noise):
    from mla_numeric.cli import main

    args = ["nqm-variance", "--layers", "5:0.5", "--lr", lr, "--curvature", curvature, "--noise", noise]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main([*args, "--json"]) == 0
        out, err = capsys.readouterr()
        assert main(args) == 0
    assert err == "" and capsys.readouterr().err == ""
    result = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert result["variance"] is not None and math.isfinite(result["variance"])
    if lr == "2":
        assert result["variance"] == 5.0


@pytest.mark.parametrize("lr, curvature, noise, message", [
    ("0.1", "1e308", "1e308", "no steady state"), ("0.1", "1", "1e200", "beyond the double range")])
def test_nqm_variance_command_says_one_line_for_huge_inputs(capsys, lr, curvature, noise, message):
    from mla_numeric.cli import main

    args = ["nqm-variance", "--layers", "5:0.5", "--lr", lr, "--curvature", curvature, "--noise", noise]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err and "Warning" not in err


@pytest.mark.parametrize("layers, lr", [([(5, 1e-20)], 1e-310), ([(5, 1e-20), (5, 1e-20)], 1e-300)])
def test_a_tiny_step_with_tiny_alphas_has_a_steady_state(layers, lr):
    # 1 - |M_n| = eta h prod alpha_i ... rounds to 0 here, but 0 < eta h < 2 with alpha_i in (0, 1]
    # always contracts (found by review: "no steady state"). V / V_SGD -> prod alpha_i as eta h -> 0.
    result = nqm_variance(layers, lr, 1.0, 1.0)
    assert result["ratio"] == pytest.approx(math.prod(alpha for _, alpha in layers), rel=1e-12)
