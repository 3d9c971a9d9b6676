"""Claim C6 (checks/nqm.py): closed form, exact recurrence and Monte Carlo on the noisy quadratic model."""
import json

import numpy as np
import pytest
import sympy as sp
from scipy import stats

from mla_numeric import MLA
from mla_numeric.checks.nqm import (
    BUDGET,
    FAILURE_PROBABILITY,
    GROUP,
    LR,
    LR_GRID,
    NESTINGS,
    check_nqm,
    exact_variance,
    folklore_variance,
    loss_over_time,
    measure_nqm,
    predicted_variance,
    variance_map,
)
from mla_numeric.moments import cycle_maps, quadratic_moments
from mla_numeric.objectives import noisy_quadratic, nqm_noise
from mla_numeric.report import run_group
from mla_numeric.symbolic import contraction, layer_symbols, steady_state_variance, variance_ratio
from mla_numeric.symbolic.nqm import NQM_SYMBOLS

BETA = NQM_SYMBOLS["beta"]
CALLS, REPLICATES = GROUP.preset("quick").window_calls, GROUP.preset("quick").replicates
NQM = noisy_quadratic(100)
H, S = np.array(NQM.params["h"]), np.array(NQM.params["s"])
# The negative control of the issue: the folklore V_LA = alpha^2 V_SGD, as a formula in alpha_1.
FOLKLORE = folklore_variance()


@pytest.fixture(scope="module")
def measurements():
    """The quick-size Monte Carlo of SGD, Lookahead and MLA (seed 0): 16 replicates x 20 000 calls."""
    return {name: measure_nqm(name, layers, calls=CALLS, replicates=REPLICATES, seed=0)
            for name, layers in NESTINGS.items()}


def test_one_layer_closed_form_is_proposition_1():
    (k, alpha), = layer_symbols(1)
    proposition = alpha ** 2 * (1 - BETA ** (2 * k)) / (
        alpha ** 2 * (1 - BETA ** (2 * k)) + 2 * alpha * (1 - alpha) * (1 - BETA ** k))
    ratio = steady_state_variance(1, in_beta=True).expr / steady_state_variance(0, in_beta=True).expr
    assert sp.simplify(ratio - proposition) == 0


def test_a_second_layer_is_proposition_1_with_beta_replaced_by_M_1():
    # V_i / V_(i-1) has Proposition 1's form in M_(i-1): why every layer with alpha < 1 reduces V.
    (k1, a1), (k2, a2) = layer_symbols(2)
    one_layer = variance_ratio(1).expr.subs({k1: k2, a1: a2}, simultaneous=True)
    nested = one_layer.subs(BETA, contraction(1).expr)
    assert sp.simplify(variance_ratio(2).expr / variance_ratio(1).expr - nested) == 0


@pytest.mark.parametrize("layers", [*NESTINGS.values(), ((3, 0.7), (2, 0.4)), ((2, 0.5), (2, 0.5), (2, 0.8))])
@pytest.mark.parametrize("lr", [LR, 1.7])  # 1.7: beta = 1 - eta h < 0 on the stiffest coordinates
def test_closed_form_equals_the_recurrence_fixed_point(layers, lr):
    closed, exact = predicted_variance(layers, lr, H, S), exact_variance(layers, lr, H, S)
    assert np.max(np.abs(closed - exact) / exact) <= 1e-10


@pytest.mark.parametrize("name", list(NESTINGS))
def test_closed_form_loss_is_the_limit_of_the_moment_recurrence(name):
    # quadratic_moments from x0 = 0: E f_t = sum_i h_i V_i (1 - M_i^(2t)) / 2; M^(2T) < 1e-13 at T = 2000 K.
    layers = NESTINGS[name]
    moments = quadratic_moments(NQM, MLA(layers, LR), 2000, nqm_noise(NQM), np.zeros(100))
    assert moments.loss[-1] == pytest.approx(H @ predicted_variance(layers, LR, H, S) / 2, rel=1e-10)


@pytest.mark.parametrize("name", list(NESTINGS))
def test_the_check_holds_for_sgd_lookahead_and_mla(measurements, name):
    check = check_nqm(measurements[name])
    assert check.verdict == "holds" and check.claim == "C6" and check.kind == "equality"
    assert check.setting["max_relative_deviation_from_recurrence"] <= 1e-10


@pytest.mark.parametrize("name", list(NESTINGS))
def test_monte_carlo_is_within_its_stated_interval(measurements, name):
    # Student-t interval over independent replicates at level 1 - 0.01/3: the three nestings
    # together miss the exact loss with probability 1 % (Bonferroni; CLT for each replicate's average).
    m = measurements[name]
    low, high = m.interval(FAILURE_PROBABILITY / len(NESTINGS))
    assert low <= m.exact_loss <= high


@pytest.mark.parametrize("name", list(NESTINGS))
def test_per_coordinate_variance_by_chi_square(measurements, name):
    # phi_T is Gaussian with mean 0 and variance V_i (1 - M_i^(2T)) ~ V_i (to 1e-6), so
    # sum_r phi_T,r,i^2 / V_i ~ chi^2_R exactly. Two-sided limits at 1 - 0.01 / 300: all 300
    # coordinates of the three nestings pass together with probability >= 99 % (Bonferroni).
    m = measurements[name]
    statistic = m.final_sq.sum(axis=0) / m.exact
    low, high = stats.chi2.ppf([0.01 / 600, 1 - 0.01 / 600], len(m.final_sq))
    assert np.all((low <= statistic) & (statistic <= high))


def test_the_folklore_alpha_squared_is_rejected(measurements):
    lookahead = measurements["Lookahead"]
    check = check_nqm(lookahead, prediction=FOLKLORE)
    assert check.verdict == "fails" and check.predicted < check.interval[0]
    # The same folklore as a callable, P^2 V_SGD, for the two-layer MLA.
    folklore = lambda layers, lr, h, s: MLA(layers).P ** 2 * predicted_variance((), lr, h, s)  # noqa: E731
    check = check_nqm(measurements["MLA"], prediction=folklore)
    assert check.verdict == "fails" and check.predicted < check.interval[0]


def test_a_prediction_inside_the_interval_but_not_exact_fails(measurements):
    # The closed form 1e-6 too large: indistinguishable by Monte Carlo, rejected by the recurrence.
    m = measurements["Lookahead"]
    check = check_nqm(m, prediction=lambda layers, lr, h, s: (1 + 1e-6) * predicted_variance(layers, lr, h, s))
    assert check.interval[0] <= check.predicted <= check.interval[1] and check.verdict == "fails"


def test_variance_map_shape_and_findings():
    vmap = variance_map()
    shape = (len(vmap.ks), len(vmap.alphas), len(vmap.eta_h))
    assert shape == (3, 20, 99) and vmap.la_over_sgd.shape == shape and vmap.mla_over_la.shape == shape
    assert set(vmap.per_call) == set(NESTINGS) and all(v.shape == shape for v in vmap.per_call.values())
    below = vmap.alphas < 1
    assert np.all(vmap.la_over_sgd[:, below] < 1) and np.all(vmap.mla_over_la[:, below] < 1)
    assert np.allclose(vmap.la_over_sgd[:, ~below], 1, rtol=0, atol=1e-12)
    # alpha = 1 is SGD: |M|^(1/K) = |1 - eta h| even for K = 100 (where floats would cancel).
    for name in NESTINGS:
        assert np.allclose(vmap.per_call[name][:, ~below], np.abs(1 - vmap.eta_h), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k_index, alpha_index", [(0, 3), (1, 9), (2, 15)])
def test_map_contraction_per_call_matches_the_mean_recurrence(k_index, alpha_index):
    vmap = variance_map()
    k, alpha = int(vmap.ks[k_index]), vmap.alphas[alpha_index]
    for name, layers in (("Lookahead", [(k, alpha)]), ("MLA", [(k, alpha), (k, alpha)])):
        M, _ = cycle_maps(vmap.eta_h, MLA(layers, 1.0))  # curvature eta h at eta = 1
        per_call = np.abs(M) ** (1 / MLA(layers).K)
        assert np.allclose(vmap.per_call[name][k_index, alpha_index], per_call, rtol=1e-9, atol=1e-12)


def test_loss_over_time_uses_the_budget_and_brackets_the_best_learning_rate():
    curves = loss_over_time()
    assert [c.name for c in curves] == list(NESTINGS)
    for c in curves:
        assert c.calls[-1] == BUDGET and len(c.final_by_lr) == len(LR_GRID)
        assert c.best[-1] == pytest.approx(c.final_by_lr.min(), rel=1e-12)
        assert LR_GRID[0] < c.best_lr < LR_GRID[-1]  # an interior optimum: the grid is wide enough
        assert c.matched[0] == pytest.approx(NQM.f(np.ones(100)))


def test_run_writes_figures_data_and_verdicts(tmp_path):
    results = run_group(GROUP, tmp_path, GROUP.preset("quick"), prefix=str(tmp_path))
    assert [(r["claim"], r["setting"]["layers"], r["verdict"]) for r in results] == [
        ("C6", "sgd", "holds"), ("C6", "5:0.5", "holds"), ("C6", "5:0.5,5:0.5", "holds")]
    for name in ("steady_state", "loss_over_time", "variance_map"):
        assert (tmp_path / f"nqm_{name}.png").stat().st_size > 10_000
    assert (tmp_path / "nqm_variance_map.csv").read_text().startswith("k,alpha,eta_h,V_LA_over_V_SGD")
    assert len((tmp_path / "nqm_steady_state.csv").read_text().splitlines()) == 1 + 3 * 100
    data = json.loads((tmp_path / "nqm.json").read_text())
    assert [c["verdict"] for c in data["checks"]] == ["holds"] * 3
    assert set(data["loss_over_time"]["best_lr"]) == set(NESTINGS)
    assert all(str(tmp_path) in path for r in results for path in r["figures"] + r["data"])


def test_bad_input_is_refused_with_the_allowed_range():
    with pytest.raises(ValueError, match="size must be one of quick, default, full"):
        GROUP.preset("huge")
    with pytest.raises(ValueError, match=r"lr \* h_i \(eta h\) must lie in \(0, 2\)"):
        measure_nqm("SGD", (), lr=2.5)
    with pytest.raises(ValueError, match="replicates must be an integer >= 2"):
        measure_nqm("SGD", (), replicates=1)
    with pytest.raises(ValueError, match=r"failure_probability must lie in \(0, 1\)"):
        check_nqm(None, failure_probability=0.0)
    with pytest.raises(ValueError, match=r"eta_h must lie in \(0, 2\)"):
        variance_map(eta_h=[0.0, 1.0])
    with pytest.raises(ValueError, match=r"alphas must lie in \(0, 1\]"):
        variance_map(alphas=[0.5, 1.5])
    with pytest.raises(ValueError, match="ks must be integers >= 1"):
        variance_map(ks=[0, 5])
    with pytest.raises(ValueError, match="budget must be at least K = 25"):
        loss_over_time(budget=10)


@pytest.mark.parametrize("name", list(NESTINGS))
def test_every_row_carries_rejected_controls_and_a_resolution(measurements, name):
    check = check_nqm(measurements[name])
    descriptions = [control.description for control in check.control]
    assert check.verdict == "holds" and all(control.rejected for control in check.control)
    assert "the prediction 5% high, the stated resolution" in descriptions
    assert "the prediction 5% low, the stated resolution" in descriptions
    assert ("the folklore V_LA = alpha^2 V_SGD" in descriptions) == (name == "Lookahead")
    assert 0 < check.resolution.value < 0.1  # the interval's relative width at the quick size


def test_a_run_too_small_to_resolve_five_percent_is_inconclusive():
    # 2 replicates x 200 calls: the interval is many times the prediction wide, so the controls 5 %
    # off cannot be rejected, and the prediction inside it is no evidence (negative control of the
    # controls: with the interval's own width as the offset they were always rejected).
    check = check_nqm(measure_nqm("MLA", NESTINGS["MLA"], calls=200, replicates=2, seed=0))
    low, high = check.interval
    assert high - low > 0.1 * check.predicted and low <= check.predicted <= high
    assert check.verdict == "inconclusive" and "no power" in check.note
    assert not any(control.rejected for control in check.control)
