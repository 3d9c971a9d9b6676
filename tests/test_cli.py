"""``mla-check``: output shapes and one-line errors with exit status 2."""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import mla_numeric as mn
from mla_numeric import objectives, oracles
from mla_numeric.cli import main


def run_cli(*args):
    # From an empty directory, so ``-m mla_numeric.cli`` imports the installed package, not ./mla_numeric.
    with tempfile.TemporaryDirectory() as cwd:
        return subprocess.run([sys.executable, "-m", "mla_numeric.cli", *args], capture_output=True,
                              text=True, cwd=cwd)


def test_simulate_json(capsys):
    assert main(["simulate", "--objective", "quadratic", "--dim", "3", "--layers", "2:0.5,2:0.5",
                 "--lr", "0.1", "--T", "4", "--replicates", "3", "--sigma", "0.5", "--seed", "9", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"config", "loss", "grad_norm_sq", "diverged"}
    for key in ("loss", "grad_norm_sq"):
        assert len(data[key]["mean"]) == len(data[key]["stderr"]) == 5
    config = data["config"]
    assert config["optimizer"]["layers"] == [[2, 0.5], [2, 0.5]] and config["optimizer"]["lr"] == 0.1
    assert config["oracle"] == {"name": "gaussian", "sigma": 0.5, "scale": None}
    assert config["seed"] == 9 and config["replicates"] == [0, 1, 2] and config["x0"] == [0.0] * 3
    assert len(config["objective"]["params"]["h"]) == 3 and data["diverged"] == []


def test_simulate_json_reproduces_itself(capsys):
    args = ["simulate", "--objective", "valley", "--oracle", "reshuffle", "--layers", "sgd",
            "--lr", "0.01", "--T", "5", "--replicates", "2", "--json"]
    main(args)
    first = capsys.readouterr().out
    main(args)
    assert capsys.readouterr().out == first
    assert json.loads(first)["config"]["objective"]["params"]["seed"] == 0


def test_human_summary_and_default_run(capsys):
    assert main(["simulate", "--objective", "wells", "--dim", "2", "--T", "8", "--replicates", "2"]) == 0
    out = capsys.readouterr().out
    assert "optimizer  5:0.5,5:0.5" in out and "diverged: 0 of 2" in out


def test_divergence_is_reported_with_seed_and_step_and_exits_1_when_every_replicate_diverged(capsys):
    assert main(["simulate", "--objective", "quadratic", "--dim", "2", "--layers", "sgd",
                 "--lr", "50", "--T", "300", "--replicates", "2", "--json"]) == 1
    captured = capsys.readouterr()
    assert "2 of 2 replicates diverged" in captured.err and captured.out == ""
    assert "every replicate diverged (first: replicate 0, seed 0, step" in captured.err


@pytest.mark.parametrize("args, message", [
    (["--layers", "5:1.5"], "alpha_1 must be in (0, 1]"),
    (["--layers", "5"], "--layers: layer 1 '5' is not K:ALPHA"),
    (["--layers", "2.5:0.5"], "--layers: layer 1 '2.5:0.5' needs an integer k >= 1"),
    (["--layers", "0:0.5"], "k_1 must be an integer >= 1"),
    (["--lr", "0"], "lr (eta) must be a finite number > 0"),
    (["--lr", "nan"], "lr (eta) must be a finite number > 0"),
    (["--T", "0"], "T must be an integer >= 1"),
    (["--replicates", "0"], "must be an integer >= 1"),
    (["--objective", "nope"], "unknown objective 'nope'"),
    (["--oracle", "nope"], "unknown oracle 'nope'"),
    (["--sigma", "-1"], "sigma must be a finite number >= 0"),
    # text that is not a number: the option and its range, from argparse
    (["--T", "ten"], "argument --T: must be an integer >= 1, got 'ten'"),
    (["--replicates", "1.5"], "argument --replicates: must be an integer >= 1, got '1.5'"),
    (["--dim", "x"], "argument --dim: must be an integer >= 1, got 'x'"),
    (["--data-seed", "x"], "argument --data-seed: must be an integer in [0, 2**63), got 'x'"),
    (["--seed", "x"], "argument --seed: must be an integer in [0, 2**63), got 'x'"),
    (["--lr", "fast"], "argument --lr: must be a finite number > 0, got 'fast'"),
    (["--sigma", "x"], "argument --sigma: must be a finite number >= 0, got 'x'"),
])
def test_bad_arguments_exit_2_with_one_line(args, message):
    result = run_cli("simulate", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mla-check: error: ") and message in lines[0]


# ---- the printed config rebuilds the run ----------------------------------------------------

def rebuild(config, seed=None):
    """Run ``mn.simulate`` again from nothing but the JSON ``config`` (another ``seed`` if given)."""
    objective = objectives.make(config["objective"]["name"], config["objective"]["dim"],
                                config["objective"]["params"]["seed"])
    optimizer = mn.MLA(config["optimizer"]["layers"], config["optimizer"]["lr"])
    oracle = oracles.make_oracle(config["oracle"]["name"], config["oracle"].get("sigma", 0.0))
    return mn.simulate(objective, optimizer, config["T"], config["replicates"], oracle,
                       x0=config["x0"], seed=config["seed"] if seed is None else seed)


REBUILT = {
    "robust-regression-reshuffle": ["--objective", "robust-regression", "--dim", "4", "--data-seed", "3",
                                    "--oracle", "reshuffle", "--layers", "3:0.5,2:0.8", "--lr", "0.05"],
    "quadratic-gaussian": ["--objective", "quadratic", "--dim", "3", "--data-seed", "2", "--layers", "2:0.5,3:0.7",
                           "--lr", "0.1"],
    "quadratic-gaussian-sigma": ["--objective", "quadratic", "--dim", "3", "--data-seed", "2",
                                 "--layers", "2:0.5,3:0.7", "--lr", "0.1", "--sigma", "0.7"],
}


@pytest.mark.parametrize("args", REBUILT.values(), ids=REBUILT.keys())
def test_printed_config_reproduces_the_printed_means_exactly(args, capsys):
    assert main(["simulate", *args, "--T", "6", "--replicates", "5", "--seed", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    config = data["config"]
    assert config["seed"] == 4 and config["replicates"] == list(range(5))
    result = rebuild(config)
    for key in ("loss", "grad_norm_sq"):
        printed = data[key]["mean"]
        assert None not in printed and getattr(result, key).mean.tolist() == printed, key
    # Negative control: the same config with another base seed gives other means.
    other = rebuild(config, seed=5)
    assert other.loss.mean[1:].tolist() != data["loss"]["mean"][1:]


# ---- the installed console script -----------------------------------------------------------

SCRIPT = Path(sys.executable).parent / "mla-check"


def run_script(tmp_path, *args):
    assert SCRIPT.is_file(), f"console script not installed at {SCRIPT}"
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=tmp_path)


def test_console_script_version(tmp_path):
    result = run_script(tmp_path, "--version")
    assert result.returncode == 0 and result.stdout.strip() == f"mla-check {mn.__version__}"


def test_console_script_simulate_json(tmp_path):
    result = run_script(tmp_path, "simulate", "--T", "3", "--replicates", "2", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["config"]["T"] == 3 and data["config"]["replicates"] == [0, 1]
    assert len(data["loss"]["mean"]) == len(data["grad_norm_sq"]["mean"]) == 4


def test_console_script_passes_on_the_exit_status(tmp_path):
    # Negative control for the two above: a bad argument must not exit 0 through the script.
    result = run_script(tmp_path, "simulate", "--T", "0", "--json")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("mla-check: error: ") and "T must be an integer >= 1" in result.stderr


def test_derive_json(capsys):
    assert main(["derive", "--layers", "5:0.5,5:0.5", "--cycles-per-epoch", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["K"] == 25 and data["P"] == {"expr": "1/4", "value": 0.25}
    assert data["pair_weight_sum"]["value"] == 175.0
    assert data["full_batch"]["lambda_over_eta"] == {"expr": "-31/16", "value": -1.9375}
    assert set(data["reshuffled"]) == {"c_grad_over_eta", "c_var_over_eta"}
    assert "Delta" in data["bound"]["expr"] and data["bound"]["step_condition"].endswith("<= 1")
    assert "beta" in data["nqm"]["variance_ratio_expr"]


def test_derive_sgd_anchor(capsys):
    assert main(["derive", "--layers", "sgd", "--cycles-per-epoch", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["full_batch"]["lambda_over_eta"]["value"] == 0.25
    assert data["reshuffled"]["c_grad_over_eta"]["value"] == data["reshuffled"]["c_var_over_eta"]["value"] == 0.25


def test_nqm_variance_json(capsys):
    assert main(["nqm-variance", "--layers", "sgd", "--lr", "0.1", "--curvature", "1", "--noise", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # V_SGD = eta^2 h^2 s^2 / (1 - beta^2) with beta = 0.9: 0.01 / 0.19.
    assert data["variance"] == pytest.approx(0.01 / 0.19) and data["ratio"] == pytest.approx(1.0)


@pytest.mark.parametrize("args, message", [
    (["nqm-variance", "--layers", "5:0.5", "--lr", "3", "--curvature", "1", "--noise", "1"], "no steady state"),
    (["nqm-variance", "--layers", "5:0.5", "--lr", "0.1", "--curvature", "0", "--noise", "1"], "--curvature must be"),
    (["derive", "--layers", "5:0.5", "--cycles-per-epoch", "0"], "--cycles-per-epoch must be an integer >= 1"),
    (["derive", "--layers", "5:1.5"], "alpha_1 must be in (0, 1]"),
    (["derive", "--layers", "5:0.5", "--cycles-per-epoch", "x"], "--cycles-per-epoch: must be an integer >= 1"),
    (["nqm-variance", "--layers", "5:0.5", "--lr", "x", "--curvature", "1", "--noise", "1"],
     "argument --lr: must be a finite number > 0, got 'x'"),
    (["nqm-variance", "--layers", "5:0.5", "--lr", "0.1", "--curvature", "1", "--noise", "?"],
     "argument --noise: must be a finite number > 0, got '?'"),
])
def test_theory_commands_reject_bad_input(args, message):
    result = run_cli(*args)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_a_reader_that_stops_early_is_not_an_error():
    # `mla-check ... | head -c 10`: the pipe closes before the output ends
    with tempfile.TemporaryDirectory() as cwd:
        # about 1 MB of JSON, far beyond a pipe's buffer, so the writer meets the closed pipe
        process = subprocess.Popen([sys.executable, "-m", "mla_numeric.cli", "simulate", "--objective", "quadratic",
                                    "--dim", "2", "--T", "20000", "--replicates", "2", "--json"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
        process.stdout.read(10)
        process.stdout.close()
        assert process.wait() == 0 and b"Traceback" not in process.stderr.read()
