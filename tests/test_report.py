"""The main job: `mla-check` runs every claim check, writes the report atomically, caches results."""
import dataclasses
import importlib
import json

import jsonschema
import pytest

from mla_numeric import report
from mla_numeric.checks import registry
from mla_numeric.cli import main


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    """One quick run of the whole job through the CLI, as the README's first command runs it."""
    root = tmp_path_factory.mktemp("report")
    out, cache = root / "mla-report", root / "cache"
    assert main(["--quick", "--out", str(out), "--cache-dir", str(cache)]) == 0
    return out, cache


def _replace_measure(monkeypatch, name, measure):
    """Make the registry's group ``name`` measure with ``measure``."""
    module = importlib.import_module(registry.MODULES[list(registry.groups()).index(name)])
    monkeypatch.setattr(module, "GROUP", dataclasses.replace(module.GROUP, measure=measure))


def schema():
    return json.loads(report.SCHEMA_PATH.read_text())


@pytest.mark.slow  # the whole job at the quick size, once for these tests
def test_summary_validates_and_covers_every_claim(quick_report):
    out, _ = quick_report
    summary = json.loads((out / "summary.json").read_text())
    jsonschema.validate(summary, schema())
    ran = [name for name in registry.groups() if name not in summary["skipped"]]  # optional extras may be missing
    assert {check["claim"] for check in summary["checks"]} == {
        claim.id for name in ran for claim in registry.group(name).claims}
    assert summary["failures"] == {} and list(summary["timings_seconds"]) == ran
    for check in summary["checks"]:
        for path in check["figures"] + check["data"]:
            assert (out / path).is_file(), path


@pytest.mark.slow  # the whole job at the quick size, once for these tests
def test_the_schema_rejects_a_malformed_summary(quick_report):
    out, _ = quick_report
    summary = json.loads((out / "summary.json").read_text())
    summary["checks"][0]["verdict"] = "probably"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(summary, schema())


@pytest.mark.slow  # the whole job at the quick size, once for these tests
def test_report_markdown_has_the_table_and_every_claim(quick_report):
    out, _ = quick_report
    text = (out / "report.md").read_text()
    assert "| claim | holds | fails | inconclusive |" in text
    for claim in registry.claims():
        assert f"## {claim}:" in text
    for link in (line.split("](")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")):
        assert (out / link).is_file(), link


@pytest.mark.slow  # the whole job at the quick size, once for these tests
def test_a_second_run_reuses_the_cache_and_no_cache_runs_again(quick_report, tmp_path, capsys):
    out, cache = quick_report
    again = tmp_path / "again"
    assert main(["--quick", "--out", str(again), "--cache-dir", str(cache), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["cached"] == list(registry.groups())
    first = json.loads((out / "summary.json").read_text())["checks"]
    assert summary["checks"] == first
    assert report.cache_key("rate", "quick", 0) != report.cache_key("rate", "quick", 1)
    assert report.cache_key("rate", "quick", 0) != report.cache_key("rate", "default", 0)


def test_an_interrupted_run_leaves_the_previous_report_intact(tmp_path, previous_report, monkeypatch):
    out = previous_report

    def interrupted(*args):
        raise KeyboardInterrupt

    _replace_measure(monkeypatch, "rate", interrupted)
    assert main(["--quick", "--out", str(out), "--no-cache"]) == 130
    assert (out / "report.md").read_text() == "the previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["mla-report"]  # no half-built folder left


def test_a_check_that_cannot_run_exits_1_and_is_reported(tmp_path, monkeypatch, capsys):
    def broken(*args):
        raise RuntimeError("simulator exploded")

    for group in registry.groups():
        _replace_measure(monkeypatch, group, broken)
    out = tmp_path / "mla-report"
    assert main(["--quick", "--out", str(out), "--no-cache"]) == 1
    assert "simulator exploded" in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    jsonschema.validate(summary, schema())
    assert set(summary["failures"]) == set(registry.groups()) and "Could not run" in (out / "report.md").read_text()


@pytest.mark.parametrize("args, message", [(["--quick", "--full"], "not allowed with"),
                                           (["--seed", "x"], "--seed: must be an integer in [0, 2**63), got 'x'"),
                                           (["rate", "--objective", "quadratic", "--objective", "nope"],
                                            "--objective must be one of quadratic, robust-regression, "
                                            "logistic-nonconvex, wells, got 'nope'")])
def test_bad_arguments_exit_2(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in ("simulate", "derive", "rate", "modified-loss", "amplification", "nqm"):
        assert command in text


@pytest.mark.parametrize("command, shown, hidden", [
    ("derive", ["--layers", "--json"], ["--out", "--quick", "--seed", "--cache-dir", "--scheduler"]),
    ("nqm-variance", ["--curvature", "--json"], ["--out", "--full", "--force", "--no-cache"]),
    ("simulate", ["--seed", "--json"], ["--out", "--quick", "--cache-dir"]),
    ("rate", ["--out", "--quick", "--seed", "--scheduler"], ["--cache-dir", "--no-cache"]),
    ("sweep", ["--out", "--quick", "--cache-dir", "--no-cache"], []),
])
def test_a_commands_help_shows_only_the_options_that_apply_to_it(command, shown, hidden, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    assert all(option in text for option in shown) and not any(option in text for option in hidden), text


def test_an_option_hidden_from_a_commands_help_is_still_refused_by_name(capsys):
    assert main(["derive", "--layers", "5:0.5", "--out", "x"]) == 2
    assert "--out does not apply to derive" in capsys.readouterr().err
