"""Claims C3-C5 as claim checks: verdicts at the quick size, negative controls, files, CLI.

The drift intervals are normal intervals with Bonferroni over the rows checked together
(valley_drift.py); the order intervals come from the slope fits (modified_loss.py).
"""
import json

import numpy as np
import pytest
from scipy import stats

from mla_numeric.checks.amplification import (PAIRS, amplification_map, check_amplification, coefficients,
                                              drift_sweeps, framed_ratio, paper_table)
from mla_numeric.checks.modified_loss import check_order, order_run, order_verdict
from mla_numeric.checks.registry import group
from mla_numeric.report import write_artifacts
from mla_numeric.checks.valley_drift import DriftSweep, check_drift, check_drift_ratio, drift_sweep, z_quantile
from mla_numeric.cli import main
from mla_numeric.objectives import robust_regression, valley
from mla_numeric.checks.modified_flow import OrderResult, default_lrs, order_of_accuracy
from mla_numeric.symbolic import full_batch_coefficient, reshuffled_coefficients


def _run_and_write(checked, out):
    """The group's quick run, its files written into ``out``; its CheckResult objects."""
    data, results = checked.run(checked.preset("quick"))
    write_artifacts(out, checked.artifacts(data, results), results)
    return results


@pytest.fixture(scope="module")
def order_checks(tmp_path_factory):
    out = tmp_path_factory.mktemp("modified-loss")
    return out, _run_and_write(group("modified-loss"), out)


@pytest.fixture(scope="module")
def amplification_checks(tmp_path_factory):
    out = tmp_path_factory.mktemp("amplification")
    return out, _run_and_write(group("amplification"), out)


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


def test_compiled_coefficients_equal_the_symbolic_derivation():
    for name, layers in (("SGD", []), ("LA", [(5, 0.5)]), ("MLA", [(3, 0.7), (3, 0.7)])):
        K = int(np.prod([k for k, _ in layers]))
        k, alpha = (layers[0] if layers else (1, 1.0))
        for cycles in (2, 4):
            c_g, c_v = reshuffled_coefficients(layers, cycles)
            got = coefficients(name, k, alpha, cycles * K)
            assert got["c_g"] == pytest.approx(c_g.evaluate(eta=1.0), rel=1e-12)
            assert got["c_g"] == pytest.approx(full_batch_coefficient(layers).evaluate(eta=1.0), rel=1e-12)
            assert got["c_v"] == pytest.approx(c_v.evaluate(eta=1.0), rel=1e-12)
    assert np.isnan(coefficients("SGD", 1, 1.0, 1)["c_v"])  # one batch an epoch: V = 0


def test_sgd_anchor_and_framings_differ_by_powers_of_P():
    assert coefficients("SGD", 1, 1.0, 10)["c_v"] == pytest.approx(0.25)  # Smith et al.: eta/4
    k, alpha, m = 5, 0.5, 50
    same_lr = framed_ratio("LA/SGD", "c_v", "same-lr", k, alpha, m)[0]
    assert framed_ratio("LA/SGD", "c_v", "same-flow", k, alpha, m)[0] == pytest.approx(same_lr / alpha)
    assert framed_ratio("LA/SGD", "c_v", "same-calls", k, alpha, m)[0] == pytest.approx(same_lr * alpha)


def test_map_shape_and_the_alpha_one_edge():
    grid = amplification_map("MLA/LA", "c_g", "same-lr", ks=range(1, 6), alphas=[0.5, 1.0], cycles=2)
    assert grid["ratio"].shape == (5, 2)
    # alpha = 1 turns every layer into plain SGD steps: the coefficients agree, nothing is amplified
    assert np.allclose(grid["ratio"][:, 1], 1.0) and not grid["amplifies"][:, 1].any()
    with pytest.raises(ValueError, match="alphas must lie in"):
        amplification_map("LA/SGD", "c_v", "same-lr", alphas=[0.0, 0.5])
    with pytest.raises(ValueError, match="framing"):
        framed_ratio("LA/SGD", "c_v", "same-budget", 5, 0.5, 10)


def test_paper_table_states_the_sign_change():
    rows = paper_table(((5, 0.5),), (1,))
    la = next(r for r in rows if r["pair"] == "LA/SGD" and r["coefficient"] == "c_g" and r["framing"] == "same-lr")
    assert la["c_deep"] < 0 < la["c_shallow"] and not la["amplifies"]


def test_valley_drift_rows_hold_and_the_claim_depends_on_the_framing(amplification_checks):
    out, checks = amplification_checks
    drift = [c for c in checks if "coefficient" not in c.setting]
    assert len(drift) == 3 + len(PAIRS) and all(c.verdict == "holds" for c in drift)
    claims = {(c.setting["pair"], c.setting["coefficient"], c.setting["framing"]): c.verdict
              for c in checks if "coefficient" in c.setting}
    for pair in PAIRS:  # at k = 5, alpha = 0.5: c_g < 0 for the deeper optimizer under every framing
        assert all(claims[pair, "c_g", framing] == "fails" for framing in ("same-lr", "same-flow", "same-calls"))
        assert claims[pair, "c_v", "same-lr"] == "fails"
        assert claims[pair, "c_v", "same-flow"] == "holds"
        assert claims[pair, "c_v", "same-calls"] == "fails"
    for name in ("valley_drift.png", "amplification_same-lr.png", "amplification_same-flow.png",
                 "amplification_same-calls.png", "amplification_map.csv", "amplification_table.json"):
        assert (out / name).stat().st_size > 0


def test_drift_predicted_from_sgds_coefficient_fails_for_lookahead():
    # z for a failure probability of 1e-4 when the implementation is correct (normal interval)
    z = float(stats.norm.ppf(1 - 1e-4 / 2))
    sweep = drift_sweep(valley(2, 0, m=10), "LA", ((5, 0.5),), np.geomspace(0.001, 0.016, 5), 400)
    assert check_drift(sweep, z).verdict == "holds"
    assert check_drift(sweep, z, c_var_over_eta=0.25).verdict == "fails"


def test_amplification_verdict_from_the_derived_coefficients_alone():
    derived_only = check_amplification("LA/SGD", "c_v", "same-flow", 5, 0.5, 50)
    assert derived_only.verdict == "holds" and np.isnan(derived_only.measured)


def test_amplification_verdict_needs_the_measurement_to_agree():
    # same-flow scales the same-lr ratio by 1 / alpha = 2: a measured 0.54 +- 0.01 says "amplifies"
    assert check_amplification("LA/SGD", "c_v", "same-flow", 5, 0.5, 50, (0.54, 0.01, 2.0)).verdict == "holds"
    # a measured ratio that cannot tell (straddles 1 after scaling) or disagrees is inconclusive
    assert check_amplification("LA/SGD", "c_v", "same-flow", 5, 0.5, 50, (0.5, 0.05, 2.0)).verdict == "inconclusive"
    assert check_amplification("LA/SGD", "c_v", "same-flow", 5, 0.5, 50, (0.3, 0.01, 2.0)).verdict == "inconclusive"
    with pytest.raises(ValueError, match="c_v term only"):
        check_amplification("LA/SGD", "c_g", "same-flow", 5, 0.5, 50, (0.54, 0.01, 2.0))


def test_no_amplification_where_the_optimizers_coincide():
    # k = 1: Lookahead is SGD at rate alpha eta; same-flow makes them the same algorithm
    for pair in PAIRS:
        for coefficient in ("c_g", "c_v"):
            grid = amplification_map(pair, coefficient, "same-flow", ks=[1], cycles=4)
            assert np.allclose(grid["ratio"], 1.0) and not grid["amplifies"].any()


def test_drift_ratio_check_rejects_a_wrong_prediction(amplification_checks):
    _, checks = amplification_checks
    ratio = next(c for c in checks if c.setting.get("pair") == "LA/SGD" and "coefficient" not in c.setting)
    sweeps = drift_sweeps(group("amplification").preset("quick"))
    assert check_drift_ratio(sweeps["LA"], sweeps["SGD"], ratio.setting["z"], ratio.predicted).verdict == "holds"
    # the folklore "Lookahead is SGD at rate alpha eta" predicts c_v ratio alpha = 0.5 at the same eta
    assert check_drift_ratio(sweeps["LA"], sweeps["SGD"], ratio.setting["z"], 0.5).verdict == "fails"


def test_a_drift_fit_that_is_not_a_cubic_is_inconclusive():
    lrs = np.geomspace(0.001, 0.016, 6)
    sweep = DriftSweep("SGD", (), 50, lrs, -0.9 + np.where(lrs > 0.005, 0.05, 0.0), np.full(6, 1e-4), 100, 2.0, 1.0)
    assert sweep.fit_p_value < 0.01 and check_drift(sweep, z_quantile(1)).verdict == "inconclusive"


def test_an_order_check_swamped_by_monte_carlo_noise_is_inconclusive():
    lrs = np.geomspace(0.01, 0.08, 4)
    order = OrderResult(lrs, lrs ** 3, lrs ** 2, lrs ** 3, 3.0, 2.0)  # noise as large as the error
    assert order_verdict(order)[0] == "inconclusive"
    assert order_verdict(OrderResult(lrs, lrs ** 3, lrs ** 2, 0 * lrs, 3.0, 2.0))[0] == "holds"


def test_drift_sweep_rejects_bad_input():
    with pytest.raises(ValueError, match="valley"):
        drift_sweep(robust_regression(3, 0), "SGD", (), np.geomspace(0.001, 0.01, 5), 10)
    with pytest.raises(ValueError, match="not a multiple of K"):
        drift_sweep(valley(2, 0, m=7), "LA", ((5, 0.5),), np.geomspace(0.001, 0.01, 5), 10)
    with pytest.raises(ValueError, match="at least 5 values"):
        drift_sweep(valley(2, 0, m=5), "LA", ((5, 0.5),), [0.001, 0.01], 10)


@pytest.mark.parametrize("command", ["modified-loss", "amplification"])
def test_cli_runs_the_checks(command, tmp_path, capsys):
    assert main([command, "--quick", "--out", str(tmp_path), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results and all(r["verdict"] in ("holds", "fails", "inconclusive") for r in results)


def test_cli_rejects_two_sizes(capsys):
    assert main(["amplification", "--quick", "--full"]) == 2
    assert "not allowed with" in capsys.readouterr().err
