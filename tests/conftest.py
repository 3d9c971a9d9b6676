"""Shared test fixtures."""
import pytest

from mla_numeric.checks.registry import group
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
