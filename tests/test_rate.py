"""Claims C1 and C2 (checks/rate.py): verdicts on the default sweeps, and negative controls."""
import json

import numpy as np
import pytest

import mla_numeric as mn
from mla_numeric.checks.rate import GROUP, check_bound, check_rate, default_objectives, rate_sweep
from mla_numeric.report import run_group
from mla_numeric.cli import main
from mla_numeric.objectives import valley

PAPER = [(5, 0.5), (5, 0.5)]
TS, REPLICATES = np.array(GROUP.preset("default").Ts), GROUP.preset("default").replicates


@pytest.fixture(scope="module")
def sweeps():
    """The default sweep of the paper's two-layer MLA on every default objective, Gaussian noise."""
    return {objective.name: rate_sweep(objective, PAPER, mn.GaussianNoise(1.0), TS.astype(int), REPLICATES)
            for objective in default_objectives()}


@pytest.mark.parametrize("name", ["quadratic", "robust-regression", "logistic-nonconvex", "wells"])
def test_two_layer_mla_meets_the_rate_and_the_bound(sweeps, name):
    assert check_rate(sweeps[name]).verdict == "holds"
    assert check_bound(sweeps[name]).verdict == "holds"


@pytest.mark.parametrize("name", ["quadratic", "robust-regression", "logistic-nonconvex", "wells"])
def test_a_bound_ten_times_smaller_fails(sweeps, name):
    # The default sweeps keep the bound within a factor 10 of the measurement somewhere.
    sweep = sweeps[name]
    assert np.max(sweep.mean / sweep.bounds) > 0.1
    assert check_bound(sweep, bound_scale=0.1).verdict == "fails"


def test_a_constant_learning_rate_fails_the_rate():
    # Without decay A(T) levels off at the noise floor (proportional to eta sigma^2); with
    # sigma = 5 the default sweep reaches it, while eta = c / sqrt(T) still meets the rate.
    objective, noise = default_objectives(["quadratic"])[0], mn.GaussianNoise(5.0)
    decaying = rate_sweep(objective, PAPER, noise, TS.astype(int), REPLICATES)
    constant = rate_sweep(objective, PAPER, noise, TS.astype(int), REPLICATES, constant_lr=decaying.lrs[0])
    assert check_rate(decaying).verdict == "holds"
    assert check_rate(constant).verdict == "fails"


def test_quadratic_monte_carlo_agrees_with_exact_moments(sweeps):
    # |MC - exact| <= 5 standard errors at each T: CLT, failure probability 6e-7 per T, 3e-6 in all.
    sweep = sweeps["quadratic"]
    assert sweep.exact is not None
    assert np.all(np.abs(sweep.mean - sweep.exact) <= 5 * sweep.stderr)
    assert sweep.exact_agrees()
    # Negative control: exact values 20 % off are rejected by the same comparison.
    from dataclasses import replace
    assert not replace(sweep, exact=1.2 * sweep.exact).exact_agrees()


def test_step_condition_holds_at_every_T(sweeps):
    from mla_numeric.symbolic import step_condition
    for sweep in sweeps.values():
        for lr in sweep.lrs:
            assert step_condition(PAPER).evaluate(eta=lr, L=sweep.objective.L) <= 1


def test_results_and_files(tmp_path):
    results = run_group(GROUP, tmp_path, GROUP.preset("quick", objectives=("quadratic",), layers=PAPER),
                        prefix=str(tmp_path))
    assert [(r["claim"], r["setting"]["layers"]) for r in results] == [
        ("C1", "5:0.5,5:0.5"), ("C2", "5:0.5,5:0.5"), ("C1", "5:0.5"), ("C2", "5:0.5"), ("C1", "sgd"), ("C2", "sgd")]
    data = json.loads((tmp_path / "rate_quadratic_gaussian.json").read_text())
    assert set(data[0]) == {"claim", "statement", "source", "setting", "predicted", "kind", "measured",
                            "interval", "verdict", "figures", "data"}
    assert data[0]["kind"] == "rate" and data[1]["kind"] == "bound" and data[0]["verdict"] in ("holds", "fails", "inconclusive")
    assert data[0]["setting"]["exact_agrees"] is True and len(data[0]["setting"]["exact_A"]) == 3
    assert (tmp_path / "rate_quadratic_gaussian.png").stat().st_size > 10_000
    assert (tmp_path / "rate_quadratic_gaussian.csv").read_text().startswith("layers,T,oracle_calls")
    # Same oracle-call budget for the three optimizers.
    calls = {r["setting"]["layers"]: np.array(r["setting"]["T"]) * r["setting"]["K"] for r in results}
    assert np.allclose(calls["sgd"], calls["5:0.5,5:0.5"]) and np.allclose(calls["5:0.5"], calls["sgd"])


def test_cli_rate_json(tmp_path, capsys):
    assert main(["rate", "--quick", "--objective", "wells", "--out", str(tmp_path), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert {r["claim"] for r in results} == {"C1", "C2"} and all(r["verdict"] == "holds" for r in results)


def test_rate_check_refuses_what_it_cannot_prove():
    with pytest.raises(ValueError, match="globally smooth"):
        rate_sweep(valley(), PAPER, mn.GaussianNoise(1.0), [10, 100])
    with pytest.raises(ValueError, match="no proven sigma"):
        rate_sweep(default_objectives(["robust-regression"])[0], PAPER, mn.RandomReshuffling(), [10, 100])
    with pytest.raises(ValueError, match="no default setting"):
        default_objectives(["valley"])


def test_a_bound_looser_than_tenfold_everywhere_is_inconclusive(sweeps):
    assert check_bound(sweeps["quadratic"], bound_scale=100.0).verdict == "inconclusive"


def test_slower_than_root_T_fails_the_rate():
    # SGD on robust regression with Gaussian noise decays like T^-0.42 in the default window.
    objective = default_objectives(["robust-regression"])[0]
    calls = TS * 25
    sweep = rate_sweep(objective, [], mn.GaussianNoise(1.0), calls.astype(int), REPLICATES)
    assert check_rate(sweep).verdict == "fails"
