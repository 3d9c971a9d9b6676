"""``mla-check``: output shapes and one-line errors with exit status 2."""
import json
import subprocess
import sys

import pytest

from mla_numeric.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "mla_numeric.cli", *args], capture_output=True, text=True)


def test_simulate_json(capsys):
    assert main(["simulate", "--objective", "quadratic", "--dim", "3", "--layers", "2:0.5,2:0.5",
                 "--lr", "0.1", "--T", "4", "--seeds", "3", "--sigma", "0.5", "--seed", "9", "--json"]) == 0
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
            "--lr", "0.01", "--T", "5", "--seeds", "2", "--json"]
    main(args)
    first = capsys.readouterr().out
    main(args)
    assert capsys.readouterr().out == first
    assert json.loads(first)["config"]["objective"]["params"]["seed"] == 0


def test_human_summary_and_default_run(capsys):
    assert main(["simulate", "--objective", "wells", "--dim", "2", "--T", "8", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "optimizer  5:0.5,5:0.5" in out and "diverged: 0 of 2" in out


def test_divergence_is_reported_on_stderr(capsys):
    assert main(["simulate", "--objective", "quadratic", "--dim", "2", "--layers", "sgd",
                 "--lr", "50", "--T", "300", "--seeds", "2", "--json"]) == 0
    captured = capsys.readouterr()
    assert "2 of 2 replicates diverged" in captured.err
    assert [event["replicate"] for event in json.loads(captured.out)["diverged"]] == [0, 1]


@pytest.mark.parametrize("args, message", [
    (["--layers", "5:1.5"], "alpha_1 must be in (0, 1]"),
    (["--layers", "5"], "--layers: layer 1 '5' is not K:ALPHA"),
    (["--layers", "2.5:0.5"], "--layers: layer 1 '2.5:0.5' needs an integer k >= 1"),
    (["--layers", "0:0.5"], "k_1 must be an integer >= 1"),
    (["--lr", "0"], "lr (eta) must be a finite number > 0"),
    (["--lr", "nan"], "lr (eta) must be a finite number > 0"),
    (["--T", "0"], "T must be an integer >= 1"),
    (["--seeds", "0"], "seeds (number of replicates) must be an integer >= 1"),
    (["--objective", "nope"], "unknown objective 'nope'"),
    (["--oracle", "nope"], "unknown oracle 'nope'"),
    (["--sigma", "-1"], "sigma must be a finite number >= 0"),
    (["--T", "ten"], "argument --T: invalid int value: 'ten'"),
])
def test_bad_arguments_exit_2_with_one_line(args, message):
    result = run_cli("simulate", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mla-check: error: ") and message in lines[0]
