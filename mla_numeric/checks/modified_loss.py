"""Claims C3 and C4: the derived modified losses are accurate to O(eta^3) per cycle or epoch.

Setting
    C3: one full-batch MLA cycle on robust regression (d = 3). C4: the mean end point of one
    reshuffled epoch (m = N K minibatches) on the valley objective (d = 2), exact over all m!
    orders for m <= 8 and Monte Carlo beyond. Both from x0 = start + 0.5 (1, -1, ...)
    (``starting_point``: off the valley's diagonal, where H g and grad V are parallel and c_g, c_v
    cannot be told apart). SGD, Lookahead, 2- and 3-layer MLA and the paper's 5:0.5,5:0.5
    (``LAYERS``, ``PRESETS``).
Claim
    C3: the cycle follows the time-(eta P K) flow of f + lambda ||grad f||^2 to O(eta^3). C4: the
    mean epoch follows the time-(eta P m) flow of f + c_g ||grad f||^2 + c_v V to O(eta^3).
    Coefficients from ``symbolic.modified_loss``; against the plain flow of f the error is O(eta^2).
Source
    Barrett & Dherin (2021) and Smith et al. (2021) for SGD; THEORY.md C3/C4 for any nesting.
How it is decided
    Rule ``equality`` on each coefficient, and rule ``order`` on the same run; both must hold.
    Equality: lambda/eta (C3), c_g/eta and c_v/eta (C4) are measured by Richardson extrapolation
    of the eta^2 term of the error to eta -> 0, with an interval from the extrapolation's
    truncation, a rounding bound and (Monte Carlo epochs) a 95 % normal interval
    (``modified_flow``, error model in its docstring); the derived value must lie in it. Order: the
    log-log slopes of the errors against both flows over the same etas, with 95 % Student-t
    intervals from the fit, against ``ORDER_THRESHOLD`` = 2.5, midway between the orders 2 and 3;
    Monte Carlo standard errors must lie below 1/``MONTE_CARLO_MARGIN`` of every error, else
    inconclusive. One row per coefficient: ``measured`` is the coefficient (what the claim is
    about, and what a wrong derivation changes), the slopes are in ``setting``.
Work units
    One per setting (``units``): each setting's errors and coefficients are computed alone.
Negative control
    Matched, in every row: the derived coefficient times 1 + r and times 1 - r, r the stated
    resolution (``RESOLUTION``: 0.1 % for exact means, 2 % for Monte Carlo means), must both fall
    outside the interval, which shows that the run resolves r (an interval that contains the
    derived value and excludes both is narrower than r on either side); a "holds" whose controls
    are not both rejected is inconclusive. Tests: a coefficient 0.2 % off fails C3 and C4;
    dropping the variance term fails C4; lambda = 0 fails C3 (tests/test_modified_loss.py,
    tests/test_modified_flow.py).
Example
    >>> from mla_numeric.checks.registry import group
    >>> data, results = group("modified-loss").run(group("modified-loss").preset("quick"))  # doctest: +SKIP
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

from .._typing import FloatArray
from ..objectives import robust_regression, valley
from ..objectives.base import Objective
from ..spec import MLA, format_layers
from ..symbolic import full_batch_coefficient, reshuffled_coefficients
from . import stats
from .group import CheckGroup, Claim, Document, Figure, Table, Work
from .modified_flow import FAILURE_PROBABILITY, OrderResult, default_lrs, order_of_accuracy
from .result import CheckResult, Control, Resolution

if TYPE_CHECKING:
    import sympy as sp

__all__ = ["starting_point", "order_run", "order_verdict", "check_order", "ModifiedLossPreset", "GROUP"]

ORDER_THRESHOLD = 2.5  # midway between the orders 2 (plain flow) and 3 (modified flow)
MONTE_CARLO_MARGIN = 10  # Monte Carlo standard errors must lie below error / 10
# Stated relative resolution, by the kind of mean: the 0.1 % where the mean is exact; 2 % where it is
# Monte Carlo (1.6 million orders at m = 16 resolve about 0.25 % for c_g and 0.55 % for c_v).
RESOLUTION = {"exact": 1e-3, "monte carlo": 2e-2}
_RULE = (f"the coefficient over eta measured by Richardson extrapolation of the eta^2 term of the error, "
         f"with an interval from the truncation, a rounding bound and, for Monte Carlo means, a "
         f"{100 * (1 - FAILURE_PROBABILITY):g} % normal interval; {stats.RULES['equality']}; and on the same "
         f"run the log-log slopes with 95 % Student-t intervals: {stats.RULES['order']}, the threshold being "
         f"{ORDER_THRESHOLD:g} (midway between orders 2 and 3), Monte Carlo standard errors below "
         f"1/{MONTE_CARLO_MARGIN} of every error; holds when both hold, fails when either fails. Controls: the "
         f"derived coefficient times 1 +- {RESOLUTION['exact']:g} (exact means) or 1 +- "
         f"{RESOLUTION['monte carlo']:g} (Monte Carlo means) must fall outside the interval")
C3 = Claim("C3", "Modified loss, full batch",
           "one full-batch cycle follows the flow of f + lambda ||grad f||^2 to O(eta^3), with the derived "
           "lambda, and the plain flow only to O(eta^2)",
           "Barrett & Dherin (2021) for SGD; THEORY.md C3 (derived lambda) for any nesting", "equality", _RULE)
C4 = Claim("C4", "Modified loss, random reshuffling",
           "the mean of one reshuffled epoch follows the flow of f + c_g ||grad f||^2 + c_v V to O(eta^3), "
           "with the derived c_g and c_v, and the plain flow only to O(eta^2)",
           "Smith et al. (2021) for SGD; THEORY.md C4 (derived c_g, c_v) for any nesting", "equality", _RULE)


def starting_point(objective: Objective) -> FloatArray:
    """x0 = start + 0.5 (1, -1, 1, ...)."""
    return objective.start() + 0.5 * (-1.0) ** np.arange(objective.dim)


def _derived(layers: Sequence[tuple[int, float]], cycles: int | None) -> list[sp.Expr]:
    """The derived coefficients over eta as sympy numbers: [lambda/eta] or [c_g/eta, c_v/eta]."""
    formulas = [full_batch_coefficient(layers)] if cycles is None else reshuffled_coefficients(layers, cycles)
    return [formula.subs(eta=1).expr for formula in formulas]


def order_run(objective: Objective, layers: Sequence[tuple[int, float]], cycles: int | None = None,
              samples: int | None = None, lrs: ArrayLike | None = None, scale: tuple[float, float] = (1.0, 1.0),
              seed: int = 0) -> OrderResult:
    """Errors, slopes and coefficients for one cycle (``cycles=None``) or one reshuffled epoch, from
    ``starting_point``.

    The claim is the derived (lambda or c_g, c_v) times ``scale``: ``scale=(1, 0)`` drops the c_v V
    term, ``(1.002, 1)`` puts lambda or c_g 0.2 % off (negative controls).
    """
    x0 = starting_point(objective)
    lrs = default_lrs(objective, x0) if lrs is None else lrs
    claimed = [float(value) * factor for value, factor in zip(_derived(layers, cycles), scale, strict=False)] + [0.0]

    def coefficients(eta: float) -> tuple[float, float]:
        return eta * claimed[0], eta * claimed[1]

    return order_of_accuracy(objective, layers, lrs, coefficients, x0, cycles=cycles, samples=samples, seed=seed)


def order_verdict(order: OrderResult) -> tuple[str, tuple[float, float, float], tuple[float, float, float]]:
    """(verdict, (slope, low, high), (plain slope, low, high)) by rule ``order`` alone."""
    modified = stats.loglog_slope_interval(order.lrs, order.error_modified)
    plain = stats.loglog_slope_interval(order.lrs, order.error_plain)
    resolved = bool(np.all(order.monte_carlo_error < order.error_modified / MONTE_CARLO_MARGIN))
    return (stats.order_verdict(modified, plain, ORDER_THRESHOLD) if resolved else "inconclusive"), modified, plain


def check_order(order: OrderResult, objective: Objective, layers: Sequence[tuple[int, float]],
                cycles: int | None = None) -> list[CheckResult]:
    """C3 (``cycles=None``) or C4: one CheckResult per coefficient, each with its matched control.

    A row holds when its derived coefficient lies in the measured interval (rule ``equality``) and
    the errors are O(eta^3) against the modified flow, O(eta^2) only against the plain flow (rule
    ``order``); it fails when either fails.
    """
    order_rule, (slope, low, high), (plain, plain_low, plain_high) = order_verdict(order)
    optimizer = MLA(layers)
    claim = C3 if cycles is None else C4
    coefficients = order.coefficients
    mean = "monte carlo" if np.any(coefficients.monte_carlo) else "exact"
    common = {"objective": objective.name, "oracle": "full batch" if cycles is None else "reshuffle",
              "layers": format_layers(optimizer.layers), "K": optimizer.K, "P": optimizer.P,
              "cycles_per_epoch": cycles, "m": None if cycles is None else cycles * optimizer.K,
              "x0": starting_point(objective).tolist(), "mean": mean, "lr": order.lrs.tolist(),
              "error_modified": order.error_modified.tolist(), "error_plain": order.error_plain.tolist(),
              "monte_carlo_error": order.monte_carlo_error.tolist(), "slope_modified": slope,
              "slope_modified_interval": [low, high], "slope_plain": plain,
              "slope_plain_interval": [plain_low, plain_high], "threshold": ORDER_THRESHOLD,
              "order_verdict": order_rule}
    results = []
    for index, (name, derived) in enumerate(zip(coefficients.names, _derived(layers, cycles), strict=True)):
        claimed, measured = coefficients.claimed[index], coefficients.measured[index]
        half = coefficients.half_width[index]
        interval = (measured - half, measured + half)
        equality = stats.equality_verdict(claimed, *interval)
        verdict = ("fails" if "fails" in (equality, order_rule)
                   else "holds" if (equality, order_rule) == ("holds", "holds") else "inconclusive")
        controls = [Control(f"{name} x (1 {sign} {RESOLUTION[mean]:g}), the stated resolution", perturbed, measured,
                            interval, stats.equality_verdict(perturbed, *interval))
                    for sign, perturbed in (("+", claimed * (1 + RESOLUTION[mean])),
                                            ("-", claimed * (1 - RESOLUTION[mean])))]
        setting = common | {"coefficient": name, "derived": str(derived), "half_width_truncation":
                            coefficients.truncation[index], "half_width_rounding": coefficients.rounding[index],
                            "half_width_monte_carlo": coefficients.monte_carlo[index],
                            "richardson": coefficients.orders[:, index].tolist()}
        results.append(CheckResult(
            claim=claim.id, statement=claim.statement, source=claim.source, setting=setting,
            predicted=claimed, kind=claim.kind, measured=measured, interval=interval, verdict=verdict,
            control=controls,
            resolution=Resolution(f"relative error of {name}", half / abs(claimed) if claimed else math.inf),
            note="" if order_rule == "holds" else f"the order rule alone: {order_rule}"))
    return results


# ---- the group: `mla-check modified-loss`, the report, simulations/implicit_regularization.py ---

LAYERS = {"SGD": (), "LA": ((2, 0.6),), "MLA-2": ((2, 0.5), (2, 0.5)), "MLA-3": ((2, 0.6), (2, 0.5), (2, 0.5)),
          "LA 5:0.5": ((5, 0.5),), "MLA 5:0.5,5:0.5": ((5, 0.5), (5, 0.5))}
_DEFAULT_SETTINGS = (("SGD", None, None), ("LA", None, None), ("MLA-2", None, None), ("MLA-3", None, None),
                     ("LA 5:0.5", None, None), ("MLA 5:0.5,5:0.5", None, None),
                     ("SGD", 4, None), ("SGD", 8, None), ("LA", 1, None), ("LA", 2, None), ("MLA-2", 1, None),
                     ("MLA-2", 2, None), ("MLA-3", 1, None))


@dataclass(frozen=True)
class ModifiedLossPreset:
    """Settings (label of ``LAYERS``, cycles per epoch or None for full batch, Monte Carlo samples or
    None for the exact mean) and the number of etas per fit (and Richardson nodes)."""

    settings: tuple[tuple[str, int | None, int | None], ...]
    etas_per_fit: int


PRESETS = {
    "quick": ModifiedLossPreset((("SGD", None, None), ("LA", None, None), ("MLA-2", None, None),
                                 ("SGD", 4, None), ("LA", 1, None), ("LA", 2, None), ("MLA-2", 2, None)), 4),
    "default": ModifiedLossPreset(_DEFAULT_SETTINGS, 5),
    "full": ModifiedLossPreset(_DEFAULT_SETTINGS + (("MLA-3", 2, 1_600_000),), 7),
}


def _objective(cycles: int | None, layers: Sequence[tuple[int, float]]) -> Objective:
    """Full batch: robust regression (d = 3); reshuffled: the valley with m = N K components."""
    if cycles is None:
        return robust_regression(3, 0)
    return valley(2, 0, m=cycles * MLA(layers).K)


@dataclass
class OrderCase:
    """One setting's errors against both flows and its measured coefficients."""

    label: str
    cycles: int | None
    objective: Objective
    order: OrderResult

    @property
    def name(self) -> str:
        return self.label if self.cycles is None else f"{self.label}, N={self.cycles}"

    @property
    def claim(self) -> str:
        return "C3" if self.cycles is None else "C4"


Unit: TypeAlias = tuple[str, int | None, int | None, int, int]  # (label, cycles, samples, etas per fit, seed)


def units(preset: ModifiedLossPreset, seed: int = 0) -> list[Unit]:
    """Work units: one per setting (label, cycles per epoch, samples), with the preset's etas per fit."""
    return [(label, cycles, samples, preset.etas_per_fit, seed) for label, cycles, samples in preset.settings]


def run_unit(unit: Unit) -> OrderCase:
    """One setting's OrderCase."""
    label, cycles, samples, etas_per_fit, seed = unit
    objective = _objective(cycles, LAYERS[label])
    high = 0.064 if samples else 0.016  # Monte Carlo needs errors well above its noise
    lrs = default_lrs(objective, starting_point(objective), high / 8, high, etas_per_fit)
    return OrderCase(label, cycles, objective, order_run(objective, LAYERS[label], cycles, samples, lrs, seed=seed))


def combine(preset: ModifiedLossPreset, seed: int, results: list[OrderCase]) -> list[OrderCase]:
    """[OrderCase] for each setting of the preset, in order."""
    return list(results)


measure = Work(units, run_unit, combine)  # measure(preset, seed, progress) -> [OrderCase]


def judge(cases: list[OrderCase]) -> list[CheckResult]:
    return [check for case in cases for check in check_order(case.order, case.objective, LAYERS[case.label],
                                                             case.cycles)]


def artifacts(cases: list[OrderCase], results: list[CheckResult]) -> list[Figure | Table | Document]:
    """Per claim a figure of the errors and coefficients against eta and two CSVs (errors per eta,
    coefficients per setting); one JSON of the checks."""
    from ..plotting import order_figure

    files: list[Figure | Table | Document] = []
    for claim, title in (("C3", "C3: one full-batch cycle, robust regression"),
                         ("C4", "C4: mean reshuffled epoch, valley")):
        orders = {case.name: case.order for case in cases if case.claim == claim}
        files += [Figure(f"order_{claim}.png", functools.partial(order_figure, orders, title=title)),
                  Table(f"order_{claim}.csv", ("setting", "lr", "error_modified", "error_plain", "monte_carlo_error"),
                        [[label, lr, e, p, n] for label, order in orders.items()
                         for lr, e, p, n in zip(order.lrs, order.error_modified, order.error_plain,
                                                order.monte_carlo_error, strict=True)]),
                  Table(f"coefficients_{claim}.csv", ("setting", "coefficient", "derived", "measured", "half_width",
                                                      "truncation", "rounding", "monte_carlo"),
                        [[label, *row] for label, order in orders.items() for row in zip(
                            order.coefficients.names, order.coefficients.claimed, order.coefficients.measured,
                            order.coefficients.half_width, order.coefficients.truncation,
                            order.coefficients.rounding, order.coefficients.monte_carlo, strict=True)])]
    for check in results:
        check.figures = [f"order_{check.claim}.png"]
        check.data = [f"coefficients_{check.claim}.csv", f"order_{check.claim}.csv", "modified_loss.json"]
    return files + [Document("modified_loss.json", results)]


GROUP = CheckGroup(
    name="modified-loss", claims=(C3, C4), presets=PRESETS, measure=measure, judge=judge, artifacts=artifacts,
    cost=3.0, summary="claims C3 and C4: the derived modified-loss coefficients, measured to 0.1 %, and O(eta^3)",
    description="Measure lambda/eta (C3, one full-batch cycle) and c_g/eta, c_v/eta (C4, the mean reshuffled epoch, "
                "exact over all m! orders) by Richardson extrapolation of the eta^2 term of the error, against the "
                "derived values, and fit the log-log slopes of the errors against the modified flow (3) and the "
                "plain flow (2), for SGD, Lookahead and 2- and 3-layer MLA.",
    full_help="more etas and a Monte Carlo epoch with m = 16")
