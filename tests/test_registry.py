"""checks/registry.py and checks/group.py: every group is complete, and the report reads it."""
import dataclasses
import importlib
import json

import pytest

from mla_numeric import report
from mla_numeric.checks import registry
from mla_numeric.checks.group import SIZES, CheckGroup, Claim
from mla_numeric.checks.stats import KINDS


@pytest.mark.parametrize("name", list(registry.groups()))
def test_every_group_is_complete(name):
    checked = registry.group(name)
    assert checked.summary and checked.description and checked.claims
    for size in SIZES:
        preset = checked.preset(size)
        assert dataclasses.is_dataclass(preset) and preset.__dataclass_params__.frozen
        json.dumps(checked.configuration(preset))  # JSON-ready: the cache key and summary.json
    for option in checked.options:
        assert option.field in {field.name for field in dataclasses.fields(checked.presets["default"])}
    for claim in checked.claims:
        assert claim.kind in KINDS and claim.rule and claim.source


def test_claim_ids_are_unique_and_in_report_order():
    ids = [claim.id for checked in registry.groups().values() for claim in checked.claims]
    assert len(ids) == len(set(ids)) and list(registry.claims()) == ids


def test_presets_take_overrides_and_refuse_unknown_sizes():
    rate = registry.group("rate")
    assert rate.preset("quick", objectives=("wells",)).objectives == ("wells",)
    assert rate.preset("quick", objectives=None) == rate.preset("quick")
    with pytest.raises(ValueError, match="size must be one of quick, default, full"):
        rate.preset("huge")
    with pytest.raises(ValueError, match="unknown check group 'ratez'"):
        registry.group("ratez")


def test_a_group_needs_every_size_and_a_claim_a_known_kind():
    with pytest.raises(ValueError, match="needs a preset for each size"):
        CheckGroup("g", "s", "d", (), {"quick": None}, lambda *a: None, lambda d: [])
    with pytest.raises(ValueError, match="kind must be one of"):
        Claim("C0", "t", "s", "src", "tight", "rule")


def test_a_group_whose_extra_is_missing_is_skipped_not_failed(tmp_path, monkeypatch):
    module = importlib.import_module("mla_numeric.checks.nqm")
    monkeypatch.setattr(module, "GROUP", dataclasses.replace(module.GROUP, requires=("no_such_module_xyz",),
                                                             extra="nothing"))
    summary = report.run_all(tmp_path / "report", "quick", groups=["nqm"], use_cache=False, progress=False)
    assert summary["failures"] == {} and summary["checks"] == []
    assert "not installed: no_such_module_xyz" in summary["skipped"]["nqm"]
    assert "Skipped `nqm`" in (tmp_path / "report" / "report.md").read_text()
