"""docs/adding_a_check.md: its worked example (docs/examples/descent_check.py) becomes a check group
by one line in the registry, and runs through `mla-check` and the report like the built-in ones."""
import json
from pathlib import Path

import pytest

from mla_numeric import report
from mla_numeric.checks import registry
from mla_numeric.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


@pytest.fixture
def with_example(monkeypatch):
    """The registry with the example's module appended: the one line the guide adds."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setattr(registry, "MODULES", registry.MODULES + ["descent_check"])


def test_the_example_runs_as_a_subcommand(with_example, tmp_path, capsys):
    assert main(["descent", "--quick", "--out", str(tmp_path / "descent"), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [(r["claim"], r["verdict"]) for r in results] == [("C0", "holds"), ("C0", "holds")]
    assert (tmp_path / "descent" / "descent.csv").is_file()


def test_the_example_joins_the_report(with_example, tmp_path):
    summary = report.run_all(tmp_path / "report", "quick", groups=["descent"], use_cache=False, progress=False)
    assert {check["claim"] for check in summary["checks"]} == {"C0"}
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## C0: Descent lemma" in text and "Nesterov (2004)" in text


def test_the_example_fails_when_its_premise_is_violated(with_example):
    import descent_check

    checked = descent_check.GROUP
    _, results = checked.run(checked.preset("quick", step_times_L=2.5, objectives=("quadratic",)))
    assert [r.verdict for r in results] == ["fails"]


def test_the_help_lists_the_example(with_example, capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "descent" in capsys.readouterr().out
