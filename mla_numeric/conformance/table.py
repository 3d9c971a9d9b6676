"""The C8 table: every built-in implementation at every depth, with exact and noisy gradients."""
from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Iterable
from dataclasses import dataclass

from .._typing import JSON, Layers
from ..objectives import make
from .adapters import IMPLEMENTATIONS, Implementation, missing_modules
from .harness import CONFORMS, DEVIATES, NOT_INSTALLED, Comparison, Setting, compare

__all__ = ["ConformancePreset", "PRESETS", "ConformanceRow", "ConformanceTable", "conformance_table"]

PACKAGES = ("jax", "optax", "torch", "torch-optimizer", "pytorch-optimizer", "timm")


@dataclass(frozen=True)
class ConformancePreset:
    """Where the implementations are compared.

    Objective ``objective`` (a built-in name) of dimension ``dim`` from its default start; the
    nesting at depth n is ``layers[:n]``: periods and steps chosen so that every known cause
    changes the trajectory (all alpha_i != 1/2, so that swapping alpha and 1 - alpha shows;
    k_1 != k_1 k_2, so that counting calls shows). Each run makes ``cycles`` top-level cycles;
    the noisy runs add the engine's GaussianNoise(sigma) of stream (seed, replicate).
    """

    objective: str = "wells"
    dim: int = 4
    layers: Layers = ((3, 0.6), (2, 0.7), (2, 0.8))
    lr: float = 0.05
    cycles: int = 12
    sigma: float = 1.0
    seed: int = 0
    replicate: int = 0

    def settings(self) -> tuple[Setting, ...]:
        """(exact, noisy) ``Setting``s."""
        objective = make(self.objective, self.dim)
        return tuple(Setting(objective, objective.start(), self.lr, self.cycles, sigma, self.seed, self.replicate)
                     for sigma in (0.0, self.sigma))


PRESETS = {"quick": ConformancePreset(cycles=4), "default": ConformancePreset()}


@dataclass(frozen=True)
class ConformanceRow:
    """One implementation at one depth: "conforms" if it conforms with exact and noisy gradients;
    otherwise the first deviating comparison (exact first) gives first_deviation, max_rel_deviation
    and diagnosis. ``note`` says why a library is "not installed"."""

    library: str
    implementation: str
    construction: str
    layers: Layers
    verdict: str
    first_deviation: int | None = None
    max_rel_deviation: float | None = None
    diagnosis: str | None = None
    comparisons: tuple[Comparison, ...] = ()
    note: str | None = None

    def to_dict(self) -> JSON:
        """The JSON row (no per-call arrays)."""
        return {"library": self.library, "implementation": self.implementation,
                "construction": self.construction, "layers": [list(layer) for layer in self.layers],
                "verdict": self.verdict, "first_deviation": self.first_deviation,
                "max_rel_deviation": self.max_rel_deviation, "diagnosis": self.diagnosis,
                "note": self.note,
                "runs": [{"gradients": c.gradients, "verdict": c.verdict, "first_deviation": c.first_deviation,
                          "max_rel_deviation": c.max_rel_deviation, "diagnosis": c.diagnosis,
                          "causes": c.causes} for c in self.comparisons]}


@dataclass(frozen=True)
class ConformanceTable:
    preset: ConformancePreset
    rows: tuple[ConformanceRow, ...]
    versions: dict[str, str | None]
    seconds: float


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _row(implementation: Implementation, layers: Layers, settings: Iterable[Setting], construction: str
         ) -> ConformanceRow:
    missing = missing_modules(implementation.modules)
    if missing:
        return ConformanceRow(implementation.library, implementation.name, construction, layers,
                              NOT_INSTALLED, note=missing)
    adapter = implementation.adapter(construction)  # adapters keep no state between runs
    comparisons = tuple(compare(adapter, layers, setting) for setting in settings)
    deviating = [c for c in comparisons if c.verdict == DEVIATES]
    if not deviating:
        return ConformanceRow(implementation.library, implementation.name, construction, layers, CONFORMS,
                              None, max(c.max_rel_deviation for c in comparisons), None, comparisons)
    first = deviating[0]
    return ConformanceRow(implementation.library, implementation.name, construction, layers, DEVIATES,
                          first.first_deviation, first.max_rel_deviation, first.diagnosis, comparisons)


def conformance_table(preset: ConformancePreset = PRESETS["default"],
                      implementations: Iterable[Implementation] = IMPLEMENTATIONS,
                      depths: Iterable[int] | None = None) -> ConformanceTable:
    """Judge every implementation at depths ``depths`` (default 1..len(preset.layers)).

    A construction identical to one already judged (a period variant at depth 1) is skipped.
    """
    start = time.perf_counter()
    settings = preset.settings()
    depths = range(1, len(preset.layers) + 1) if depths is None else depths
    rows, seen = [], set()
    for implementation in implementations:
        for depth in depths:
            layers = tuple(preset.layers[:depth])
            construction = implementation.construction(layers, preset.lr)
            if construction not in seen:
                seen.add(construction)
                rows.append(_row(implementation, layers, settings, construction))
    versions = {package: _version(package) for package in PACKAGES}
    return ConformanceTable(preset, tuple(rows), versions, time.perf_counter() - start)
