"""Claim C7: the explicit convergence bound C2 holds over every L-smooth function (PEPit).

Setting
    Deterministic n-layer nested Lookahead (sigma = 0), written as the algorithm is defined (fast
    steps, a synchronisation at every level), on the class of L-smooth non-convex functions, with
    f(phi_0) - f(x) <= Delta at every visited point; L = Delta = 1. Nestings sgd, 2:0.5, 5:0.5,
    2:0.5,2:0.5, 3:0.5,2:0.5 and a three-layer one (the preset's); steps eta L at fractions of C2's
    step condition; horizons T up to the preset's number of gradient evaluations.
Claim
    The worst case of (1/T) sum_{t<T} ||grad f(phi_t)||^2 is at most 2 Delta / (eta P K T), the
    C2 bound at sigma = 0, when 2 L eta P K + L^2 eta^2 K (K - 1) <= 1.
Source
    theory/convergence.md (C2); performance estimation: Drori & Teboulle (2014); Taylor, Hendrickx
    & Glineur (2017); PEPit (Goujaud et al.). theory/worst_case.md has the formulation.
How it is decided
    Rule ``bound``: the SDP's worst case (the dual value, a certified upper bound) against the bound,
    within the solver's accuracy (max of the duality gap and the primal violation). The ratio
    worst / bound says how loose C2 is. A worst case above the bound would be a counterexample to
    C2 over the whole function class: the report says so in bold.
Negative control
    The same worst case against the bound divided by ``control_factor`` (10): a false bound that
    the worst case exceeds, so the check must reject it in the same run. Anchors: gradient
    descent's published worst case (4/3)/N on the ``min`` measure (tests/test_worst_case.py).
Example
    ``mla-check worst-case --layers 5:0.5 --T 2 --lr-times-L 0.13 --json``
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

from .._typing import JSON, Layers
from ..spec import MLA, format_layers, parse_layers
from ..symbolic import max_lr
from . import stats
from .group import CheckGroup, Claim, Document, Figure, Option, Table, Work
from .result import CheckResult, Control, Resolution

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing.TypeIs from Python 3.13; only read by type checkers

    from ..worst_case import NestingData, WorstCase, WorstCaseData, WorstCasePreset

__all__ = ["C7", "WorstCaseCheckPreset", "GROUP"]

C7 = Claim("C7", "Explicit bound over every L-smooth function (worst case, PEPit)",
           "the worst case over L-smooth f of (1/T) sum_{t<T} ||grad f(phi_t)||^2 is at most 2 Delta/(eta P K T) "
           "(C2 at sigma = 0) under the step condition",
           "theory/convergence.md (C2); Drori & Teboulle (2014); Taylor, Hendrickx & Glineur (2017); PEPit", "bound",
           f"the exact worst case by a semidefinite program (PEPit); {stats.RULES['bound']}, within the solver's "
           f"accuracy; the control is the bound divided by 10")
METRICS = ("average", "min")


@dataclass(frozen=True)
class WorstCaseCheckPreset:
    """The SDPs of the C7 table (``sdp``), or one point when ``layers`` is given (``mla-check
    worst-case --layers ...``): T top-level iterations (default 2) at eta L = ``lr_times_L``
    (default: the step condition's), measure ``metric``."""

    sdp: WorstCasePreset
    layers: Layers | None = None
    T: int | None = None
    lr_times_L: float | None = None
    metric: str = "average"


def _presets() -> dict[str, WorstCaseCheckPreset]:
    from ..worst_case import PRESETS

    return {size: WorstCaseCheckPreset(preset) for size, preset in PRESETS.items()}


Unit: TypeAlias = tuple[Literal["nesting", "anchors", "point"], WorstCaseCheckPreset, str]  # (what, preset, nesting)
Part: TypeAlias = "NestingData | tuple[WorstCase, ...] | WorstCase"
POINT_T = 2  # the one point's T when --T is not given


def units(preset: WorstCaseCheckPreset, seed: int = 0) -> list[Unit]:
    """Work units: one per nesting of the C7 table and one for the anchors, or the one point that
    the preset names, its options checked here (deterministic SDPs: ``seed`` is not used)."""
    from ..worst_case import check_points

    if preset.layers is None:
        if (preset.T, preset.lr_times_L, preset.metric) != (None, None, "average"):
            raise ValueError("--T, --lr-times-L and --metric describe one point: give --layers too")
        return [("nesting", preset, spec) for spec in preset.sdp.nestings] + [("anchors", preset, "")]
    if preset.metric not in METRICS:
        raise ValueError(f"--metric must be one of {', '.join(METRICS)}, got {preset.metric!r}")
    check_points(preset.layers, POINT_T if preset.T is None else preset.T)
    return [("point", preset, "")]


def run_unit(unit: Unit) -> Part:
    """A nesting's SDPs (``worst_case.measure_nesting``), the anchors, or the one point."""
    from .. import worst_case

    what, preset, spec = unit
    if what == "nesting":
        return worst_case.measure_nesting(spec, preset.sdp)
    if what == "anchors":
        return worst_case.measure_anchors(preset.sdp)
    assert preset.layers is not None  # units() names a point only then
    optimizer = MLA(preset.layers)
    lr = max_lr(optimizer.K, optimizer.P, 1.0) if preset.lr_times_L is None else preset.lr_times_L
    return worst_case.worst_case(optimizer.layers, lr, POINT_T if preset.T is None else preset.T, preset.metric,
                                 preset.sdp.solver)


def combine(preset: WorstCaseCheckPreset, seed: int, parts: list[Part]) -> WorstCase | WorstCaseData:
    """The C7 data (as ``worst_case.measure`` gives it), or the one point."""
    from ..worst_case import NestingData, WorstCase, WorstCaseData

    if preset.layers is not None:
        [point] = parts
        assert isinstance(point, WorstCase)  # the one unit of a point
        return point
    nestings, anchors = tuple(part for part in parts if isinstance(part, NestingData)), parts[-1]
    assert isinstance(anchors, tuple) and len(nestings) == len(parts) - 1  # the nestings', then the anchors' unit
    return WorstCaseData(preset.sdp, nestings, anchors)


# measure(preset, seed, progress) -> WorstCaseData, or one WorstCase when the preset names a point
measure = Work(units, run_unit, combine)


def _result(point: WorstCase, control_factor: float, what: str) -> CheckResult:
    from ..worst_case import judge_point

    judgement = judge_point(point.value, point.bound, point.accuracy, control_factor)
    setting = {"layers": format_layers(point.layers), "T": point.T, "lr_times_L": point.lr, "metric": point.metric,
               "what": what, "value": point.value, "bound": point.bound, "ratio": point.ratio,
               "solver": point.solver, "status": point.status, "accuracy": point.accuracy, "points": point.points,
               "within_step_condition": point.within_step_condition, "unbounded": point.unbounded,
               "certified": point.certified}
    low, high = point.value - point.accuracy, point.value + point.accuracy
    verdict = judgement.verdict if point.within_step_condition and point.certified else "inconclusive"
    control_verdict = judgement.control_verdict if point.certified else "inconclusive"
    note = ("" if verdict == "holds" else
            "outside the step condition: C2 does not claim this point" if not point.within_step_condition else
            f"no certified answer from the SDP solvers: {point.solver}, {point.status}"
            if verdict == "inconclusive" else
            "COUNTEREXAMPLE: the worst case exceeds the C2 bound over the L-smooth class")
    return CheckResult(C7.id, C7.statement, C7.source, setting, point.bound, C7.kind, point.value, (low, high),
                       verdict,
                       control=[Control(f"the bound divided by {control_factor:g}", judgement.control_bound,
                                        point.value, (low, high), control_verdict)],
                       resolution=Resolution("absolute accuracy of the worst case (solver)", point.accuracy), note=note)


def _is_table(data: WorstCase | WorstCaseData) -> TypeIs[WorstCaseData]:
    """The whole C7 data (``worst_case.measure``), not one point."""
    return hasattr(data, "nestings")


def judge(data: WorstCase | WorstCaseData) -> list[CheckResult]:
    if not _is_table(data):  # one point
        return [_result(data, 10.0, "one point")]
    factor = data.preset.control_factor
    results = []
    for nesting in data.nestings:
        rows = [_result(point, factor, "eta sweep") for point in nesting.sweep]
        rows += [_result(point, factor, "horizon") for point in nesting.horizon if point not in nesting.sweep]
        for row in rows:  # how conservative the step condition is (bisection at the sweep's T)
            row.setting.update(step_condition_lr_times_L=nesting.step_lr, certified_lr_times_L=nesting.certified.lr,
                               certified_at_T=nesting.certified.T)
        results += rows
    return results


def artifacts(data: WorstCase | WorstCaseData, results: list[CheckResult]) -> list[Figure | Table | Document]:
    from ..plotting import horizon_figure, worst_case_figure
    from ..worst_case import tightness_table

    for result in results:
        result.data = ["worst_case.json"] + (["tightness.csv"] if _is_table(data) else [])
    if not _is_table(data):
        return [Document("worst_case.json", {"point": dataclasses.asdict(data), "checks": results})]
    header, rows = tightness_table(data)
    for result in results:
        result.figures = ["worst_case.png", "worst_case_horizon.png"]
    anchors = [dataclasses.asdict(anchor) for anchor in data.anchors]
    return [Figure("worst_case.png", lambda path: worst_case_figure(data, path)),
            Figure("worst_case_horizon.png", lambda path: horizon_figure(data, path)),
            Table("tightness.csv", header, rows),
            Document("worst_case.json", {"nestings": [dataclasses.asdict(n) for n in data.nestings],
                                         "anchors": anchors, "checks": results})]


def details(checks: list[JSON]) -> str:
    """report.md's tightness table: per nesting, worst / bound at the step condition and over the sweeps."""
    by_nesting: dict[str, list[JSON]] = {}
    for check in checks:
        by_nesting.setdefault(check["setting"]["layers"], []).append(check)
    lines = ["| nesting | largest T | worst / bound (min-max) | step condition's eta L | certified eta L (at T) "
             "| certified / step condition | verdicts |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for layers, rows in by_nesting.items():
        ratios = [r for row in rows if (r := row["setting"]["ratio"]) is not None and math.isfinite(r)]  # as cached
        s = rows[0]["setting"]
        step, certified = s.get("step_condition_lr_times_L"), s.get("certified_lr_times_L")
        certified_text = "-" if certified is None else f"{certified:.3g} ({s['certified_at_T']})"
        gain = "-" if certified is None or step is None else f"{certified / step:.3g}"
        verdicts = ", ".join(f"{sum(r['verdict'] == v for r in rows)} {v}" for v in ("holds", "fails", "inconclusive")
                             if any(r["verdict"] == v for r in rows))
        spread = f"{min(ratios):.3g}-{max(ratios):.3g}" if ratios else "-"
        lines.append(f"| {layers} | {max(row['setting']['T'] for row in rows)} | {spread} "
                     f"| {'-' if step is None else f'{step:.3g}'} | {certified_text} | {gain} | {verdicts} |")
    failures = [check for check in checks if check["note"].startswith("COUNTEREXAMPLE")]
    if failures:
        lines += ["", f"**{len(failures)} worst case(s) exceed the C2 bound: a counterexample to C2 over the "
                      "L-smooth class. See worst_case.json.**"]
    lines += ["", "Certified eta L: the largest eta at which the worst case at T stays below C2's bound at the "
                  "step condition's eta (bisection); all columns in worst-case/tightness.csv."]
    return "\n".join(lines)


def _integer(flag: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.strip().isdigit() or int(text) < 1:
            raise ValueError(f"{flag} must be an integer >= 1, got {text!r}")
        return int(text)
    return parse


def _number(flag: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{flag} must be a finite number > 0, got {text!r}")
        return value
    return parse


GROUP = CheckGroup(
    name="worst-case", claims=(C7,), presets=_presets(), measure=measure, judge=judge, artifacts=artifacts,
    cost=6.0, single_core=True,
    summary="claim C7: the C2 bound against the exact worst case over all L-smooth functions (PEPit)",
    description="Compute, by performance estimation (PEPit, a semidefinite program), the worst case of deterministic "
                "nested Lookahead over every L-smooth function, against the C2 bound at sigma = 0, for a table of "
                "nestings, step sizes and horizons; the largest certified step size by bisection. With --layers: "
                "one point (value, bound, ratio, solver, status, points).",
    full_help="61-point SDPs and five step sizes (about 4 minutes on 2 cores)",
    requires=("PEPit", "cvxpy", "clarabel"), extra="pep", details=details,
    options=(Option("--layers", "layers", "SPEC", "one nesting, innermost first ('sgd' for none): compute one point",
                    parse=lambda spec: tuple(parse_layers(spec))),
             Option("--T", "T", "N", "top-level iterations of the one point (default 2)", parse=_integer("--T")),
             Option("--lr-times-L", "lr_times_L", "X",
                    "eta L of the one point (default: C2's step condition; at least 1e-3 of it)",
                    parse=_number("--lr-times-L")),
             Option("--metric", "metric", "NAME", "average (C2's quantity) or min (PEPit's convention; default "
                    "average)")))
