"""Claim C8: the Lookahead implementations people train with, nested as users nest them, compute
nested Lookahead.

Setting
    optax's ``lookahead`` (nested literally, and with outer periods k_1 k_2 ... as optax counts
    calls), ``torch_optimizer.Lookahead``, ``pytorch_optimizer.Lookahead``, timm's ``Lookahead`` and
    this package's ``contrib`` optimizers, each built as its documentation suggests, at depths 1..3
    (``ConformancePreset``: wells, d = 4, layers 3:0.6, 2:0.7, 2:0.8), driven in float64 with the
    engine's gradients: exact, and noisy with the engine's noise of every oracle call.
Claim
    The implementation's fast iterate at every oracle call and its outermost slow weights after every
    top-level cycle equal the engine's (``simulate(..., trajectory=True)``) to rounding.
Source
    THEORY.md (the algorithm); Zhang et al. (2019) for one layer; Pushkin & Barba (2021) for nesting.
How it is decided
    Rule ``bound``: the largest relative deviation over both runs must be at most
    ``conformance.RTOL``; otherwise "fails", with the first deviating call and a diagnosis from the
    known causes (periods counted in calls, inner slow weights not re-synchronised, slow weights
    initialised late, interpolation direction, state reset), each run as a defective reference.
    A library that does not import is "inconclusive" (not installed).
Work units
    One per implementation and depth (``units``), as ``conformance_table`` lists them; a worker needs
    the libraries too, or its rows say "not installed".
Negative control
    In the same setting and run, the reference with each known defect that changes the algorithm
    here (the multi-level ones change nothing with one layer) must part from the implementation:
    a "holds" stands only if every such defect would have been detected, and is inconclusive where
    none applies. tests/test_conformance.py rejects a deliberately broken wrapper for each cause.
Example
    ``mla-check conformance --library optax --layers 3:0.6,2:0.7``
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TypeAlias

from .._typing import JSON, Layers
from ..conformance import (
    CAUSES,
    IMPLEMENTATIONS,
    RTOL,
    ConformancePreset,
    ConformanceRow,
    ConformanceTable,
    conformance_table,
)
from ..conformance.harness import CONFORMS, DEVIATES
from ..spec import format_layers, parse_layers
from . import stats
from .group import CheckGroup, Claim, Document, Figure, Option, Table, Work
from .result import CheckResult, Control, Resolution

__all__ = ["C8", "ConformanceCheckPreset", "GROUP"]

C8 = Claim("C8", "Library Lookahead implementations conform",
           "with the engine's gradients, the implementation reproduces nested Lookahead's fast and slow "
           "iterates to rounding", "THEORY.md; Zhang et al. (2019); Pushkin & Barba (2021)", "bound",
           f"the largest relative deviation from the engine over exact and noisy gradients; "
           f"{stats.RULES['bound']}, the bound being {RTOL:g}; a missing library is inconclusive")
LIBRARIES = tuple(dict.fromkeys(implementation.library for implementation in IMPLEMENTATIONS))


@dataclass(frozen=True)
class ConformanceCheckPreset:
    """The harness's preset, and the libraries to try (None: all)."""

    harness: ConformancePreset
    libraries: tuple[str, ...] | None = None
    layers: Layers | None = None   # the nesting (depths 1..n of it); None: the harness's


PRESETS = {"quick": ConformanceCheckPreset(ConformancePreset(cycles=4)),
           "default": ConformanceCheckPreset(ConformancePreset()),
           "full": ConformanceCheckPreset(ConformancePreset(cycles=48))}


def _harness(preset: ConformanceCheckPreset, seed: int) -> ConformancePreset:
    harness = dataclasses.replace(preset.harness, seed=seed)
    return harness if preset.layers is None else dataclasses.replace(harness, layers=tuple(preset.layers))


Unit: TypeAlias = tuple[ConformancePreset, str, int]  # (harness, implementation name, depth)


def units(preset: ConformanceCheckPreset, seed: int = 0) -> list[Unit]:
    """Work units: every chosen implementation at every depth, (harness, implementation name, depth),
    skipping a construction identical to one already listed (as ``conformance_table`` does)."""
    harness = _harness(preset, seed)
    unknown = sorted(set(preset.libraries or ()) - set(LIBRARIES))
    if unknown:
        raise ValueError(f"--library must be one of {', '.join(LIBRARIES)}, got {', '.join(unknown)}")
    constructions = {(i.name, depth): i.construction(tuple(harness.layers[:depth]), harness.lr)
                     for i in IMPLEMENTATIONS if preset.libraries is None or i.library in preset.libraries
                     for depth in range(1, len(harness.layers) + 1)}
    first = {construction: key for key, construction in reversed(constructions.items())}
    return [(harness, *key) for key, construction in constructions.items() if first[construction] == key]


def run_unit(unit: Unit) -> ConformanceTable:
    """The one-row table of one implementation at one depth, with exact and noisy gradients."""
    harness, name, depth = unit
    return conformance_table(harness, [i for i in IMPLEMENTATIONS if i.name == name], depths=[depth])


def combine(preset: ConformanceCheckPreset, seed: int, tables: list[ConformanceTable]) -> ConformanceTable:
    """The C8 table: the units' rows in order, the library versions of the first unit's worker."""
    return ConformanceTable(_harness(preset, seed), tuple(row for table in tables for row in table.rows),
                            tables[0].versions, sum(table.seconds for table in tables))


measure = Work(units, run_unit, combine)  # measure(preset, seed, progress): the C8 table


def _control(row: ConformanceRow) -> Control:
    """Every known defect that changes the algorithm here parts from the implementation somewhere in
    this run: else a "holds" has no power against it (and a defect that changes nothing here is no
    defect here)."""
    missed = sorted({cause for comparison in row.comparisons for cause, call in comparison.causes.items()
                     if call is None})
    applicable = sorted({cause for comparison in row.comparisons for cause in comparison.causes})
    return Control(f"the reference with each known defect that changes the algorithm here ({len(applicable)} of "
                   f"{len(CAUSES)})", RTOL, None, (None, None), "inconclusive" if missed or not applicable else "fails")


def judge(table: ConformanceTable) -> list[CheckResult]:
    results: list[CheckResult] = []
    for row in table.rows:
        setting = {"problem": table.preset.objective, "layers": format_layers(row.layers),
                   "library": row.library, "implementation": row.implementation, "construction": row.construction,
                   "first_deviation": row.first_deviation, "max_rel_deviation": row.max_rel_deviation,
                   "diagnosis": row.diagnosis, "gradients": "exact and gaussian", "cycles": table.preset.cycles,
                   "versions": table.versions}
        if row.verdict not in (CONFORMS, DEVIATES):
            results.append(CheckResult(C8.id, C8.statement, C8.source, setting, RTOL, C8.kind, None, (None, None),
                                       "inconclusive", note=f"not installed: {row.note}"))
            continue
        deviation = row.max_rel_deviation
        assert deviation is not None  # a compared row (conforms or deviates) has its largest deviation
        results.append(CheckResult(
            C8.id, C8.statement, C8.source, setting, RTOL, C8.kind, deviation, (deviation, deviation),
            stats.bound_verdict([deviation], [deviation], [RTOL]), control=[_control(row)],
            resolution=Resolution("relative deviation from the engine's iterates", RTOL)))
    return results


def artifacts(table: ConformanceTable, results: list[CheckResult]) -> list[Figure | Table | Document]:
    from ..plotting import conformance_figure

    document = {"rows": [row.to_dict() for row in table.rows], "versions": table.versions, "checks": results}
    files: list[Figure | Table | Document] = [Document("conformance.json", document)]
    if any(row.verdict == DEVIATES for row in table.rows):
        files.append(Figure("conformance_deviation.png", lambda path: conformance_figure(table, path)))
    for result in results:
        result.figures = [file.name for file in files if isinstance(file, Figure)]
        result.data = ["conformance.json"]
    return files


def details(checks: list[JSON]) -> str:
    """report.md's C8 table: implementation x depth, verdict, first deviation, diagnosis, construction."""
    lines = ["| implementation | layers | verdict | first deviating call | max rel. deviation | diagnosis | "
             "construction |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for check in checks:
        s = check["setting"]
        deviation = "-" if s["max_rel_deviation"] is None else f"{s['max_rel_deviation']:.2g}"
        first = "-" if s["first_deviation"] is None else s["first_deviation"]
        construction = s["construction"].replace("\n", "; ").replace("|", "\\|")
        lines.append(f"| {s['implementation']} | {s['layers']} | {check['verdict']} | {first} | {deviation} | "
                     f"{s['diagnosis'] or check['note'] or '-'} | `{construction}` |")
    return "\n".join(lines)


GROUP = CheckGroup(
    name="conformance", claims=(C8,), presets=PRESETS, measure=measure, judge=judge, artifacts=artifacts, cost=5.0,
    summary="claim C8: do optax, torch-optimizer, pytorch-optimizer and timm compute (nested) Lookahead?",
    description="Drive each library's Lookahead, nested as its documentation suggests, with the engine's exact "
                "and noisy gradients, and compare its iterates with the engine's: conforms, or the first "
                "deviating oracle call and a diagnosis.",
    full_help="48 top-level cycles per run",
    requires=("jax", "optax", "torch"), extra="conformance", details=details,
    options=(Option("--library", "libraries", "NAME", f"one of {', '.join(LIBRARIES)}; repeat for several "
                    "(default: all)", repeatable=True),
             Option("--layers", "layers", "SPEC", "the nesting, innermost first; depths 1..n of it are checked "
                    "(default 3:0.6,2:0.7,2:0.8)", parse=lambda spec: tuple(parse_layers(spec)))))
