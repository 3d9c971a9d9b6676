"""Worst cases by performance estimation (mla_numeric.worst_case, claim C7).

Assertions follow the kind of reference: two-sided for a tight published or derived value, one-sided
``value <= bound + accuracy`` for an upper bound, equality for reductions (a special case of nested
Lookahead is a simpler method, so both SDPs are the same up to the solver's accuracy).
"""
import io
import json
import math
import sys
from contextlib import redirect_stdout

import pytest

from mla_numeric.spec import MLA, parse_layers
from mla_numeric.symbolic import max_lr
from mla_numeric.worst_case import (
    MAX_POINTS,
    WorstCase,
    WorstCasePreset,
    anchor_value,
    c2_bound,
    judge_point,
    largest_certified_lr,
    measure,
    tightness_table,
    worst_case,
)

RTOL = 1e-6  # the solver's tolerance is 1e-8; reductions compare two SDPs, each to about that


def test_missing_extra_is_a_clear_message(monkeypatch):
    for name in [name for name in sys.modules if name.split(".")[0] == "PEPit"] + ["mla_numeric.pep_clarabel"]:
        monkeypatch.setitem(sys.modules, name, None)  # makes `import PEPit...` fail, as when not installed
    with pytest.raises(ImportError, match=r"requires the 'pep' extra: pip install mla-numeric\[pep\]"):
        worst_case([], 0.5, 2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=0.0), r"lr \(eta L\) must be a finite number > 0"),
    (dict(lr=math.nan), r"lr \(eta L\) must be a finite number > 0"),
    (dict(T=0), "T must be an integer >= 1"),
    (dict(T=1.5), "T must be an integer >= 1"),
    (dict(metric="max"), "metric must be one of average, min"),
    (dict(solver="MOSEK"), "solver must be one of CLARABEL, SCS"),
    (dict(layers=[(0, 0.5)]), "k_1 must be an integer >= 1"),
    (dict(layers=[(2, 0.5), (2, 1.5)]), r"alpha_2 must be in \(0, 1\]"),
    (dict(layers="2:x"), "needs an integer k >= 1 and alpha in"),
    (dict(layers="5:0.5,5:0.5", T=3), rf"76 gradient evaluations .* the limit is {MAX_POINTS} .* take T <= 2"),
    (dict(layers="8:0.5,8:0.5", T=1), r"take a nesting with K = k_1 \.\.\. k_n <= 60"),
])
def test_bad_input_is_a_clear_value_error(kwargs, message):
    arguments = dict(layers="2:0.5", lr=0.3, T=2) | kwargs
    with pytest.raises(ValueError, match=message):
        worst_case(**arguments)


def test_certified_lr_refuses_a_foreign_sdp():
    other = WorstCase((), 0.3, 2, "average", 1.0, 1.0, "CLARABEL", "optimal", 0.0, 3, True, True)  # eta_s is 0.5
    with pytest.raises(ValueError, match="at_step_lr must be the 'average' worst case .* eta 0.5 and T = 2"):
        largest_certified_lr([], 2, at_step_lr=other)


def test_judge_point_rule():
    assert judge_point(1.0, 1.0 - 1e-9, 1e-8, 2.0) == ("holds", (1.0 - 1e-9) / 2, "fails")
    assert judge_point(1.1, 1.0, 1e-8, 2.0).verdict == "fails"
    assert judge_point(math.inf, 1.0, 0.0, 2.0).verdict == "fails"
    with pytest.raises(ValueError, match="control_factor must be > 1"):
        judge_point(1.0, 2.0, 0.0, 1.0)


@pytest.fixture
def pep():
    """The tests below solve SDPs: they need the 'pep' extra (PEPit, cvxpy, Clarabel)."""
    pytest.importorskip("cvxpy")
    return pytest.importorskip("PEPit")


def gradient_descent_pep(lr, steps, every, metric):
    """Naive twin: gradient descent written directly in PEPit, the measure over x_0, x_every, ...

    ``average``: (1/T) sum_{t<T} ||g(x_{t every})||^2 with f(x_0) - f(x_j) <= 1 at every iterate;
    ``min``: min_{t<=T} ||g(x_{t every})||^2 with f(x_0) - f(x_steps) <= 1; T = steps / every.
    """
    from PEPit import PEP
    from PEPit.functions import SmoothFunction

    problem = PEP()
    f = problem.declare_function(SmoothFunction, L=1.0)
    x = [problem.set_initial_point()]
    for _ in range(steps):
        x.append(x[-1] - lr * f.gradient(x[-1]))
    slow = x[::every]
    if metric == "average":
        problem.set_performance_metric(sum(f.gradient(p) ** 2 for p in slow[:-1]) / (len(slow) - 1))
        for point in x[1:]:
            problem.set_initial_condition(f.value(x[0]) - f.value(point) <= 1)
    else:
        for point in slow:
            problem.set_performance_metric(f.gradient(point) ** 2)
        problem.set_initial_condition(f.value(x[0]) - f.value(x[-1]) <= 1)
    with redirect_stdout(io.StringIO()):
        return problem.solve(wrapper="cvxpy", solver="CLARABEL", verbose=0)


@pytest.mark.usefixtures("pep")
@pytest.mark.parametrize("N", range(1, 9))
def test_gradient_descent_anchor(N):
    # Tight: (4/3) L (f(x_0) - f(x_N)) / N for step 1/L (Taylor 2017, p. 190; Abbaszadehpeivasti,
    # de Klerk & Zamani 2021), PEPit's example wc_gradient_descent.
    result = worst_case([], 1.0, N, "min")
    assert result.status == "optimal" and result.points == N + 1
    assert result.value == pytest.approx(anchor_value(N), rel=1e-4)
    assert result.accuracy < 1e-6


@pytest.mark.usefixtures("pep")
def test_same_formulation_as_pepit_example():
    from PEPit.examples.nonconvex_optimization.gradient_descent import wc_gradient_descent

    with redirect_stdout(io.StringIO()):
        theirs, _ = wc_gradient_descent(L=1, gamma=0.7, n=4, wrapper="cvxpy", solver="CLARABEL", verbose=-1)
    assert worst_case([], 0.7, 4, "min").value == pytest.approx(theirs, rel=RTOL)


@pytest.mark.usefixtures("pep")
@pytest.mark.parametrize("lr, T", [(0.25, 1), (0.5, 3), (1.0, 4), (1.6, 2)])
def test_gradient_descent_average_is_the_descent_lemma(lr, T):
    # Tight, derived: the descent lemma f(x') <= f(x) - eta (1 - L eta / 2) ||g||^2 summed over T steps
    # gives (1/T) sum ||g_t||^2 <= Delta / (eta (1 - L eta / 2) T), and f = L x^2 / 2 (with
    # |x_0| set by f(x_0) - f(x_T) = Delta) attains it with equality at every step.
    result = worst_case([], lr, T)
    assert result.value == pytest.approx(1 / (lr * (1 - lr / 2) * T), rel=RTOL)


@pytest.mark.usefixtures("pep")
@pytest.mark.filterwarnings("ignore:Solution may be inaccurate")  # the twin's; the value is compared
@pytest.mark.parametrize("metric", ["average", "min"])
@pytest.mark.parametrize("layers, every", [([(3, 1.0)], 3), ([(2, 1.0), (2, 1.0)], 4)])
def test_alpha_one_is_gradient_descent_with_K_times_the_steps(layers, every, metric):
    result = worst_case(layers, 0.4, 2, metric)
    assert result.points == 2 * every + 1  # the syncs land on the fast weights: no extra point
    assert result.value == pytest.approx(gradient_descent_pep(0.4, 2 * every, every, metric), rel=RTOL)


@pytest.mark.usefixtures("pep")
@pytest.mark.parametrize("metric", ["average", "min"])
def test_k_one_is_gradient_descent_with_step_eta_P(metric):
    result = worst_case([(1, 0.5), (1, 0.8)], 0.5, 3, metric)
    assert result.value == pytest.approx(worst_case([], 0.5 * 0.4, 3, metric).value, rel=RTOL)


@pytest.mark.usefixtures("pep")
@pytest.mark.parametrize("layers, fraction, T", [("2:0.5", 1.0, 3), ("2:0.5,2:0.5", 0.5, 2), ("3:0.5,2:0.5", 1.0, 1)])
def test_worst_case_is_below_the_c2_bound(layers, fraction, T):
    optimizer = MLA(parse_layers(layers))
    K, P = optimizer.K, optimizer.P
    result = worst_case(layers, fraction * max_lr(K, P, 1.0), T)
    assert result.within_step_condition
    assert result.bound == pytest.approx(2 / (result.lr * P * K * T), rel=1e-12)  # sigma = 0, L = Delta = 1
    judgement = judge_point(result.value, result.bound, result.accuracy, control_factor=10.0)
    assert judgement.verdict == "holds" and result.ratio < 1  # upper bound, one-sided
    assert judgement.control_verdict == "fails"  # the negative control is rejected


@pytest.mark.usefixtures("pep")
@pytest.mark.parametrize("layers, lr", [([], 2.0), ("2:0.5", 3.0)])
def test_unbounded_worst_case_is_an_answer(layers, lr):
    # On f = x^2 / 2 every visited point has |x| >= |x_0|, so f(x_0) - f(x) <= 0 and ||grad f(x_0)||^2
    # = x_0^2 is free: gradient descent at eta L = 2 oscillates, x_j = (-1)^j x_0 (Clarabel 0.11 fails
    # at this edge and SCS answers); 2:0.5 at eta L = 3 has x_j = (-2)^j x_0 and phi_1 = 2.5 x_0.
    result = worst_case(layers, lr, 2)
    assert result.unbounded and result.value == math.inf and result.status.startswith("unbounded")
    assert not result.within_step_condition


@pytest.mark.usefixtures("pep")
def test_certified_lr_of_gradient_descent():
    # From the descent-lemma value above: worst(eta) = 1 / (eta (1 - eta / 2) T) equals C2's bound at
    # the step condition's eta 1/2, 4 / T, where eta (1 - eta / 2) = 1/4: eta = 1 + 1/sqrt(2).
    result = largest_certified_lr([], 2, rtol=0.01)
    assert result.step_lr == 0.5 and result.target == pytest.approx(c2_bound([], 0.5, 2))
    assert 1 + 2 ** -0.5 >= result.lr >= (1 + 2 ** -0.5) / 1.01
    assert [t.lr for t in result.trials[:3]] == [0.5, 1.0, 2.0]  # the bracket doubles from eta_s
    assert result.gain == pytest.approx(result.lr / 0.5)


@pytest.mark.usefixtures("pep")
def test_measure_small_preset(tmp_path):
    from mla_numeric.plotting.worst_case import horizon_figure, worst_case_figure

    preset = WorstCasePreset(nestings=("sgd", "2:0.5,2:0.5"), lr_fractions=(0.5, 1.0), sweep_points=5,
                             max_points=9, anchor_steps=2, rtol=0.2)
    data = measure(preset)
    sgd, mla = data.nestings
    assert [w.T for w in sgd.horizon] == [1, 2, 4, 8] and [w.T for w in mla.horizon] == [1, 2]
    assert sgd.sweep[0].T == 4 and mla.sweep[0].T == 1
    assert mla.certified.trials[0] is mla.sweep[-1]  # the SDP at the step condition's eta is reused
    for nesting in data.nestings:
        for result in nesting.sweep + nesting.horizon:
            assert judge_point(result.value, result.bound, result.accuracy, preset.control_factor) == (
                "holds", result.bound / preset.control_factor, "fails")
        certified = nesting.certified  # its eta held, and a trial at most 1 + rtol above it failed
        assert nesting.step_lr <= certified.lr and any(
            certified.lr < t.lr <= certified.lr * (1 + preset.rtol) and t.value > certified.target + t.accuracy
            for t in certified.trials)
    assert [a.value for a in data.anchors] == pytest.approx([anchor_value(1), anchor_value(2)], rel=1e-4)
    header, rows = tightness_table(data)
    assert len(rows) == 2 and len(rows[0]) == len(header)
    assert worst_case_figure(data, tmp_path / "wc.png").stat().st_size > 0
    assert horizon_figure(data, tmp_path / "horizon.png").stat().st_size > 0
    # the check group's work units (a nesting each, then the anchors) combine into the same data
    from mla_numeric.checks.worst_case import WorstCaseCheckPreset
    from mla_numeric.checks.worst_case import measure as group_measure

    assert [unit[0] for unit in group_measure.units(WorstCaseCheckPreset(preset), 0)] == ["nesting"] * 2 + ["anchors"]
    assert group_measure(WorstCaseCheckPreset(preset)) == data


# ---- the C7 check group (checks/worst_case.py) -----------------------------------------------------

def test_the_c7_group_at_one_point_holds_with_its_control_rejected(tmp_path, capsys):
    pytest.importorskip("PEPit")
    from mla_numeric.cli import main

    assert main(["worst-case", "--layers", "5:0.5", "--T", "2", "--json", "--out", str(tmp_path / "wc")]) == 0
    [row] = json.loads(capsys.readouterr().out)
    setting = row["setting"]
    assert row["claim"] == "C7" and row["verdict"] == "holds" and row["control"][0]["rejected"]
    assert setting["points"] == 11 and 0 < setting["ratio"] < 1 and setting["value"] <= setting["bound"]
    assert {"value", "bound", "ratio", "solver", "status", "points"} <= set(setting)


def test_a_step_too_small_for_the_solvers_is_refused_in_one_line(tmp_path, capsys):
    # At eta L = 1e-9 the worst case of gradient descent is 1 / eta L (C2 holds: a theorem), but the
    # SDP is so badly scaled that Clarabel says "unbounded" (found by review: a false COUNTEREXAMPLE).
    pytest.importorskip("PEPit")
    from mla_numeric.cli import main

    assert main(["worst-case", "--layers", "sgd", "--T", "1", "--lr-times-L", "1e-9",
                 "--out", str(tmp_path / "wc")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lr (eta L) must be at least 0.0005" in err[0] and not (tmp_path / "wc").exists()


@pytest.mark.parametrize("within, solved_by, status, certified", [
    (True, "CLARABEL", "unbounded", False),   # contradicts C2's proof: never a counterexample by itself
    (False, "CLARABEL", "unbounded", True),   # outside the step condition: the first solver's exact answer
    (False, "CLARABEL", "unbounded_inaccurate", False),
    (False, "SCS", "unbounded", False),       # the fallback's, after Clarabel failed
    (True, None, "CLARABEL: NumericalError, SCS: error", False),  # no answer (value NaN)
])
def test_which_solver_answers_are_certified(monkeypatch, tmp_path, within, solved_by, status, certified):
    pytest.importorskip("PEPit")
    from mla_numeric import worst_case as module
    from mla_numeric.checks.worst_case import _result

    value = math.nan if solved_by is None else math.inf
    monkeypatch.setattr(module, "_solve", lambda problem, solver, cvxpy: (solved_by, status, value, 0.0))
    point = module.worst_case("sgd", 0.5 if within else 3.0, 1)
    assert point.within_step_condition == within and point.certified == certified
    row = _result(point, 10.0, "sweep")
    expected = "fails" if certified and within else "inconclusive"
    assert row.verdict == expected and ("COUNTEREXAMPLE" in row.note) == (expected == "fails")
    assert row.control[0].verdict == ("fails" if certified else "inconclusive")  # rejected only with a value


@pytest.mark.usefixtures("pep")
def test_a_step_beyond_the_double_range_is_no_answer_not_an_error():
    point = worst_case("sgd", 1e300, 2)  # the SDP's data overflow: no solver answers
    assert math.isnan(point.value) and point.solver == "none" and not point.certified


def test_the_tightness_table_skips_rows_without_a_value():
    from mla_numeric.checks.worst_case import details
    rows = [{"setting": {"layers": "sgd", "ratio": ratio, "T": 2}, "verdict": verdict, "note": ""}
            for ratio, verdict in ((0.5, "holds"), (None, "inconclusive"))]  # None: a NaN, cached as null
    assert "| sgd | 2 | 0.5-0.5 |" in details(rows)


@pytest.mark.parametrize("args, message", [
    (["worst-case", "--T", "3"], "give --layers too"),
    (["worst-case", "--layers", "sgd", "--T", "x"], "--T must be an integer >= 1"),
    (["worst-case", "--layers", "sgd", "--lr-times-L", "-1"], "--lr-times-L must be a finite number > 0"),
    (["worst-case", "--layers", "sgd", "--metric", "max"], "--metric must be one of average, min"),
    (["worst-case", "--layers", "5:0.5,5:0.5", "--T", "3"], "the limit is 61"),  # refused before any SDP
])
def test_the_c7_command_answers_bad_input_in_one_line(args, message, capsys, tmp_path):
    pytest.importorskip("PEPit")
    from mla_numeric.cli import main

    assert main(args + ["--out", str(tmp_path / "wc")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_the_c7_group_quick_table_holds_everywhere_with_controls():
    pytest.importorskip("PEPit")
    from mla_numeric.checks.registry import group

    checked = group("worst-case")
    data, results = checked.run(checked.preset("quick"))
    assert results and all(r.verdict == "holds" and r.control[0].rejected for r in results
                           if r.setting["within_step_condition"])
    assert all(0 < r.setting["ratio"] < 1 for r in results)
