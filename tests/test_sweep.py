"""mla_numeric/sweep.py and `mla-check sweep`: a claim over a grid, cached per point, one folder."""
import dataclasses
import json

import pytest

from mla_numeric import sweep
from mla_numeric.cli import main

# C5 at depths 1 and 2, k = 2, 3, alpha = 0.5, 1 under the same effective rate, variance term: derived
# coefficients only, so milliseconds a point. Amplification holds at alpha = 0.5 and fails at alpha = 1,
# where every layer is the identity and the deeper optimizer is the shallower one (ratio 1).
SMALL_C5 = ["sweep", "C5", "--depth", "1", "2", "--k", "2..3", "--alpha", "0.5,1", "--framing", "same-flow",
            "--coefficient", "c_v"]


def test_values_parse_lists_and_ranges():
    assert sweep.numbers(int)(["2..4", "7"]) == (2, 3, 4, 7)
    assert sweep.numbers(float)(["0.25,1", "0.5"]) == (0.25, 1.0, 0.5)
    assert sweep.nestings(["sgd", "5:0.5, 5:0.5"]) == ("sgd", "5:0.5,5:0.5")
    assert sweep.choices(("a", "b"))(["b,a"]) == ("b", "a")
    with pytest.raises(ValueError, match="must lie in"):
        sweep.SWEEPS["C5"].axes[2].parse(["1.5"])
    with pytest.raises(ValueError, match=r"'2..x' is not an integer or a range a..b \(--k must be at least 1\)"):
        sweep.SWEEPS["C5"].axes[1].parse(["2..x"])
    with pytest.raises(ValueError, match="inf: --lr must be a finite number > 0"):
        sweep.SWEEPS["C2"].axes[1].parse(["0.1,inf"])


def test_a_claim_or_its_group_names_the_sweep():
    assert sweep.sweep_of("amplification") is sweep.SWEEPS["C5"] and sweep.sweep_of("rate") is sweep.SWEEPS["C2"]
    with pytest.raises(ValueError, match="no sweep for 'nqm'"):
        sweep.sweep_of("nqm")


def test_a_small_c5_sweep_writes_table_json_and_heatmaps(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(SMALL_C5 + ["--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["axes"] == {"depth": [1, 2], "k": [2, 3], "alpha": [0.5, 1.0], "framing": ["same-flow"],
                              "coefficient": ["c_v"], "cycles": [1]}
    verdicts = {tuple(row["point"][name] for name in ("depth", "k", "alpha")): row["verdict"] for row in result["rows"]}
    assert verdicts == {(d, k, a): "holds" if a == 0.5 else "fails" for d in (1, 2) for k in (2, 3) for a in (0.5, 1.0)}
    assert all(row["value"] == row["predicted"] for row in result["rows"])
    assert json.loads((out / "sweep.json").read_text())["rows"] == result["rows"]
    header = (out / "sweep.csv").read_text().splitlines()[0]
    assert header == "depth,k,alpha,framing,coefficient,cycles,verdict,predicted,measured,low,high,value,note"
    assert sorted(p.name for p in out.glob("*.png")) == ["sweep_depth_alpha.png", "sweep_depth_k.png",
                                                         "sweep_k_alpha.png"]


def test_one_varied_axis_is_drawn_against_another(tmp_path):
    values = {"depth": (1,), "k": (2, 3, 4), "alpha": (0.5,), "framing": ("same-lr",), "coefficient": ("c_g",)}
    result = sweep.run_sweep("C5", values, tmp_path / "sweep", use_cache=False, progress=False)
    assert [row["verdict"] for row in result["rows"]] == ["fails"] * 3  # c_g < 0 for Lookahead at alpha = 1/2
    assert [p.name for p in (tmp_path / "sweep").glob("*.png")] == ["sweep_depth_k.png"]


def test_a_c2_point_outside_the_step_condition_is_not_run():
    row = sweep.run_point(("C2", {"layers": "5:0.5,5:0.5", "lr": 0.5, "objective": "robust-regression"}, "quick", 0))
    assert row["verdict"] == "inconclusive" and row["measured"] is None and "outside the premise" in row["note"]
    inside = sweep.run_point(("C2", {"layers": "5:0.5", "lr": 0.02, "objective": "quadratic"}, "quick", 0))
    assert inside["verdict"] == "holds" and 0 < inside["value"] < 1


def test_an_interrupted_sweep_resumes_from_its_cached_points(tmp_path, monkeypatch, capsys):
    plan, calls = sweep.SWEEPS["C5"], []

    def interrupted(point, size, seed):
        calls.append(point)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return plan.check(point, size, seed)

    monkeypatch.setitem(sweep.SWEEPS, "C5", dataclasses.replace(plan, check=interrupted))
    args = SMALL_C5 + ["--out", str(tmp_path / "sweep"), "--cache-dir", str(tmp_path / "cache")]
    assert main(args) == 130 and not (tmp_path / "sweep").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]  # no half-built folder left
    monkeypatch.setitem(sweep.SWEEPS, "C5", plan)
    assert main(args + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["cached"] == 2


def test_a_point_that_cannot_run_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    def broken(point, size, seed):
        raise RuntimeError("no such nesting")

    monkeypatch.setitem(sweep.SWEEPS, "C5", dataclasses.replace(sweep.SWEEPS["C5"], check=broken))
    assert main(SMALL_C5 + ["--out", str(tmp_path / "sweep"), "--no-cache"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mla-check: error: the C5 check at depth=1 k=2 alpha=0.5 framing=same-flow coefficient=c_v "
                   "cycles=1 could not run: RuntimeError: no such nesting"]
    assert not (tmp_path / "sweep").exists()


@pytest.mark.parametrize("args, message", [
    (["sweep", "C2", "--k", "2"], "--k does not apply to sweep C2"),
    (["sweep", "C5", "--alpha", "0"], "--alpha: 0.0: --alpha must lie in (0, 1]"),
    (["sweep", "C5", "--framing", "same-speed"], "--framing: 'same-speed' is not one of same-lr, same-flow"),
    (["sweep", "C2", "--layers-grid", "5:2"], "--layers-grid"),
    (["sweep", "nqm"], "no sweep for 'nqm'"),
    (["sweep", "C5", "--seed", "1", "--replicates", "3"], "unrecognized arguments"),
])
def test_bad_sweep_arguments_exit_2_with_one_line(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mla-check: error: ") and message in err[0], err


@pytest.mark.slow  # starts a LocalCluster of 2 processes (10 to 30 s on a busy 2-core machine)
def test_a_sweep_on_two_processes_equals_the_local_sweep(tmp_path, capsys):
    args = ["sweep", "C2", "--quick", "--layers-grid", "sgd", "5:0.5", "--lr", "0.02,0.5", "--no-cache", "--json"]
    assert main(args + ["--out", str(tmp_path / "local")]) == 0
    local = json.loads(capsys.readouterr().out)
    assert main(args + ["--out", str(tmp_path / "remote"), "--scheduler", "processes:2"]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert (tmp_path / "local" / "sweep.json").read_bytes() == (tmp_path / "remote" / "sweep.json").read_bytes()
    assert remote["rows"] == local["rows"] and {row["verdict"] for row in local["rows"]} == {"holds", "inconclusive"}


@pytest.mark.slow  # the default sweeps (about 15 s each on 2 cores)
@pytest.mark.parametrize("claim, heatmaps", [("C5", 10), ("C2", 1)])
def test_the_default_sweeps_give_their_maps(claim, heatmaps, tmp_path):
    result = sweep.run_sweep(claim, out=tmp_path / claim, use_cache=False, progress=False)
    assert len(result["rows"]) == len(sweep.grid(sweep.SWEEPS[claim]))
    assert len(list((tmp_path / claim).glob("sweep_*.png"))) == heatmaps
