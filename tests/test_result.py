"""CheckResult (checks/result.py): a "holds" stands only when its matched controls were rejected."""
import math

import pytest

from mla_numeric.checks.result import (
    CheckResult,
    Control,
    Resolution,
    equality_control,
    relative_resolution,
    verdict_row,
)


def result(verdict, controls):
    return CheckResult("C0", "a claim", "a source", {"objective": "toy"}, 1.0, "equality", 1.0, (0.9, 1.1),
                       verdict, control=controls, resolution=Resolution("relative error of x", 0.2))


def test_a_holds_whose_control_was_rejected_stands():
    checked = result("holds", [equality_control("x off by 50 %", 1.5, 1.0, (0.9, 1.1))])
    assert checked.verdict == "holds" and checked.note == "" and checked.control[0].rejected


def test_a_holds_whose_control_was_not_rejected_is_inconclusive():
    checked = result("holds", [equality_control("x off by 5 %", 1.05, 1.0, (0.9, 1.1))])
    assert checked.verdict == "inconclusive" and "no power in this setting" in checked.note
    assert "x off by 5 %" in checked.note


def test_a_holds_without_a_control_is_inconclusive():
    checked = result("holds", [])
    assert checked.verdict == "inconclusive" and "no matched control" in checked.note


def test_fails_and_inconclusive_are_kept():
    assert result("fails", []).verdict == "fails"
    assert result("inconclusive", [Control("c", 2.0, 1.0, (0.9, 1.1), "fails")]).verdict == "inconclusive"


def test_the_json_form_carries_control_resolution_and_note():
    data = result("holds", [equality_control("x off by 50 %", 1.5, 1.0, (0.9, 1.1))]).to_dict("group")
    assert data["control"] == [{"description": "x off by 50 %", "predicted": 1.5, "measured": 1.0,
                                "interval": [0.9, 1.1], "verdict": "fails", "rejected": True}]
    assert data["resolution"] == {"quantity": "relative error of x", "value": 0.2}
    row = verdict_row(data)
    assert row["control"] == "rejected" and row["resolution"] == "0.2"


def test_relative_resolution_is_the_interval_width_over_the_reference():
    assert relative_resolution("x", -2.0, (1.0, 1.5)).value == pytest.approx(0.25)
    assert math.isfinite(relative_resolution("x", 3.0, (2.0, 4.0)).value)


def test_unknown_verdicts_and_kinds_are_refused():
    with pytest.raises(ValueError, match="verdict must be one of"):
        result("probably", [])
    with pytest.raises(ValueError, match="kind must be one of"):
        CheckResult("C0", "s", "s", {}, 1.0, "tight", 1.0, (0, 2), "fails")
