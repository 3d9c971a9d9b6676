"""Claim C5 (checks/amplification.py): derived ratios by framing, maps, table, valley-drift verdicts, CLI."""
import json

import numpy as np
import pytest

from mla_numeric.checks.amplification import (
    PAIRS,
    amplification_map,
    check_amplification,
    coefficients,
    drift_sweeps,
    framed_ratio,
    paper_table,
)
from mla_numeric.checks.registry import group
from mla_numeric.checks.valley_drift import check_drift_ratio
from mla_numeric.cli import main
from mla_numeric.symbolic import full_batch_coefficient, reshuffled_coefficients


@pytest.fixture(scope="module")
def amplification_checks(tmp_path_factory, quick_group_run):
    out = tmp_path_factory.mktemp("amplification")
    return out, quick_group_run("amplification", out)


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


@pytest.mark.parametrize("command", ["modified-loss", "amplification"])
def test_cli_runs_the_checks(command, tmp_path, capsys):
    assert main([command, "--quick", "--out", str(tmp_path), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results and all(r["verdict"] in ("holds", "fails", "inconclusive") for r in results)


def test_cli_rejects_two_sizes(capsys):
    assert main(["amplification", "--quick", "--full"]) == 2
    assert "not allowed with" in capsys.readouterr().err


def test_every_row_has_a_matched_control_and_a_resolution(amplification_checks):
    _, checks = amplification_checks
    for check in checks:
        assert check.control and check.resolution is not None
        if check.verdict == "holds":
            assert all(control.rejected for control in check.control), check.setting
    drift = {c.setting["optimizer"]: c for c in checks if "optimizer" in c.setting}
    assert drift["LA"].control[0].description == "c_v of sgd for 5:0.5"
    assert drift["SGD"].control[0].predicted == 0.0


@pytest.mark.parametrize("pair", ["LA/SGD", "MLA/LA", "MLA-3/MLA"])
@pytest.mark.parametrize("coefficient", ["c_g", "c_v"])
@pytest.mark.parametrize("framing", ["same-lr", "same-flow", "same-calls"])
def test_the_derived_control_is_alpha_1_where_both_are_sgd(pair, coefficient, framing):
    check = check_amplification(pair, coefficient, framing, 3, 0.5, 3 ** 3 * 2)
    control, = check.control
    assert control.measured == pytest.approx(1.0, rel=1e-12) and control.verdict == "fails"


def test_a_derivation_that_amplifies_at_alpha_1_makes_holds_inconclusive(monkeypatch):
    # Negative control of the control: a derivation giving the deeper optimizer twice the shallower
    # one's coefficient everywhere would "hold" at every point; at alpha = 1 it still amplifies, so
    # the control is not rejected. (The earlier control, the shallower coefficient against itself,
    # never went through the derivation and was rejected whatever it said.)
    from mla_numeric.checks import amplification
    monkeypatch.setattr(amplification, "framed_ratio", lambda *args: (np.float64(2.0), np.float64(2.0),
                                                                     np.float64(1.0)))
    check = check_amplification("LA/SGD", "c_v", "same-flow", 5, 0.5, 50)
    assert check.control[0].verdict == "holds" and check.verdict == "inconclusive" and "no power" in check.note


def test_c_v_with_one_minibatch_an_epoch_is_inconclusive_not_fails():
    check = check_amplification("LA/SGD", "c_v", "same-lr", 1, 0.5, 1)  # m = 1: V = 0, c_v undefined
    assert check.verdict == "inconclusive" and "undefined with m = 1" in check.note
    assert check.control[0].verdict == "inconclusive"  # no value: not "rejected"


def test_a_measured_ratio_that_cannot_exclude_1_leaves_the_control_standing():
    # an interval [0.9, 1.1] x 2 around 1: "amplifies" cannot be told from "the same coefficient"
    check = check_amplification("LA/SGD", "c_v", "same-flow", 5, 0.5, 50, (0.5, 0.05, 2.0))
    assert check.control[0].verdict == "inconclusive" and check.verdict == "inconclusive"
