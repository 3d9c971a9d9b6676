"""Shared test fixtures."""
import importlib.util
import json
import os

import pytest

from mla_numeric.checks.registry import group, groups
from mla_numeric.folders import MARKER
from mla_numeric.report import write_artifacts


@pytest.fixture(scope="session")
def quick_group_run():
    """run(name, out): the check group's quick run, its files written into ``out``; its CheckResults."""
    def run(name, out):
        checked = group(name)
        data, results = checked.run(checked.preset("quick"))
        write_artifacts(out, checked.artifacts(data, results), results)
        return results
    return run


@pytest.fixture(scope="session", autouse=True)
def extras_installed_on_ci():
    """On CI (CI set, as .ci/run has it) the test extra is installed, so no test may skip for a
    missing extra: a test that skips there would be a check that cannot fail. Elsewhere such tests
    skip with the extra's name."""
    if not os.environ.get("CI"):
        return
    required = {module for checked in groups().values() for module in checked.requires} | {"distributed", "psutil"}
    missing = sorted(module for module in required if importlib.util.find_spec(module) is None)
    assert not missing, f"CI runs with the test extra, but {missing} cannot be imported"



@pytest.fixture
def previous_report(tmp_path):
    """tmp_path/mla-report: a report folder of an earlier run (its marker lists report.md, whose text
    is "the previous report"), for tests that interrupt the next run into it."""
    out = tmp_path / "mla-report"
    out.mkdir()
    (out / "report.md").write_text("the previous report\n")
    (out / MARKER).write_text(json.dumps({"written_by": "mla-check", "entries": ["report.md"]}))
    return out
