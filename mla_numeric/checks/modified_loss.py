"""Claims C3 and C4: the derived modified losses are accurate to O(eta^3) per cycle or epoch.

Setting
    C3: one full-batch MLA cycle on robust regression (d = 3) from x0 = start + 0.5. C4: the mean
    end point of one reshuffled epoch (m = N K minibatches) on the valley objective, exact over all
    m! orders for m <= 8 and Monte Carlo beyond. SGD, Lookahead, 2- and 3-layer MLA and the
    paper's 5:0.5,5:0.5 (``LAYERS``, ``SETTINGS``).
Claim
    C3: the cycle follows the time-(eta P K) flow of f + lambda ||grad f||^2 to O(eta^3). C4: the
    mean epoch follows the time-(eta P m) flow of f + c_g ||grad f||^2 + c_v V to O(eta^3).
    Coefficients from ``symbolic.modified_loss``; against the plain flow of f the error is O(eta^2).
Source
    Barrett & Dherin (2021) and Smith et al. (2021) for SGD; THEORY.md C3/C4 for any nesting.
How it is decided
    Rule ``order``: the errors against both flows over a geometric range of eta
    (``modified_flow.order_of_accuracy``), their log-log slopes with 95 % Student-t intervals
    from the least-squares fit; the threshold ``ORDER_THRESHOLD`` = 2.5 lies midway between the
    competing orders 2 and 3. Monte Carlo means must have standard errors below a tenth of every
    error measured, else inconclusive.
Negative control
    Dropping the variance term fails C4; lambda = 0 (the plain flow) fails C3; a coefficient 10 %
    off fails (tests/test_implicit_checks.py, tests/test_modified_flow.py).
Example
    >>> from mla_numeric.checks.registry import group
    >>> data, results = group("modified-loss").run(group("modified-loss").preset("quick"))  # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .modified_flow import OrderResult, default_lrs, order_of_accuracy
from ..objectives import robust_regression, valley
from ..objectives.base import Objective
from ..spec import MLA, format_layers
from ..symbolic import full_batch_coefficient, reshuffled_coefficients
from . import stats
from .group import CheckGroup, Claim, Document, Figure, Table
from .result import CheckResult

__all__ = ["order_run", "order_verdict", "check_order", "ModifiedLossPreset", "GROUP"]

ORDER_THRESHOLD = 2.5  # midway between the orders 2 (plain flow) and 3 (modified flow)
MONTE_CARLO_RESOLUTION = 10  # Monte Carlo standard errors must lie below error / 10
_RULE = (f"the log-log slope of the error against eta with a 95 % Student-t interval from the fit; "
         f"{stats.RULES['order']}, the threshold being {ORDER_THRESHOLD:g} (midway between orders 2 and 3); "
         f"Monte Carlo standard errors must lie below 1/{MONTE_CARLO_RESOLUTION} of every error")
C3 = Claim("C3", "Modified loss, full batch",
           "one full-batch cycle follows the flow of f + lambda ||grad f||^2 to O(eta^3) (log-log slope >= 3) "
           "and the plain flow only to O(eta^2)",
           "Barrett & Dherin (2021) for SGD; THEORY.md C3 (derived lambda) for any nesting", "order", _RULE)
C4 = Claim("C4", "Modified loss, random reshuffling",
           "the mean of one reshuffled epoch follows the flow of f + c_g ||grad f||^2 + c_v V to O(eta^3) "
           "and the plain flow only to O(eta^2)",
           "Smith et al. (2021) for SGD; THEORY.md C4 (derived c_g, c_v) for any nesting", "order", _RULE)


def order_run(objective: Objective, layers, cycles: int | None = None, samples: int | None = None,
              lrs=None, with_variance: bool = True, seed: int = 0) -> OrderResult:
    """Errors and slopes for one cycle (``cycles=None``) or one reshuffled epoch, from x0 = start + 0.5.

    ``with_variance=False`` drops the c_v V term from the modified loss (a negative control).
    """
    x0 = objective.start() + 0.5
    lrs = default_lrs(objective, x0) if lrs is None else lrs
    if cycles is None:
        lam = full_batch_coefficient(layers)
        coefficients = lambda eta: (lam.evaluate(eta=eta), 0.0)  # noqa: E731
    else:
        c_g, c_v = reshuffled_coefficients(layers, cycles)
        coefficients = lambda eta: (c_g.evaluate(eta=eta), c_v.evaluate(eta=eta) if with_variance else 0.0)  # noqa: E731
    return order_of_accuracy(objective, layers, lrs, coefficients, x0, cycles=cycles, samples=samples, seed=seed)


def order_verdict(order: OrderResult) -> tuple:
    """(verdict, (slope, low, high), (plain slope, low, high)) by the rule of the module docstring."""
    modified = stats.loglog_slope_interval(order.lrs, order.error_modified)
    plain = stats.loglog_slope_interval(order.lrs, order.error_plain)
    resolved = bool(np.all(order.monte_carlo_error < order.error_modified / MONTE_CARLO_RESOLUTION))
    return (stats.order_verdict(modified, plain, ORDER_THRESHOLD) if resolved else "inconclusive"), modified, plain


def check_order(order: OrderResult, objective: Objective, layers, cycles: int | None = None) -> CheckResult:
    """C3 (``cycles=None``) or C4: the error against the modified flow is O(eta^3), against the
    plain flow O(eta^2) only."""
    verdict, (slope, low, high), (plain, plain_low, plain_high) = order_verdict(order)
    optimizer = MLA(layers)
    claim = C3 if cycles is None else C4
    return CheckResult(
        claim=claim.id, statement=claim.statement, source=claim.source,
        setting={"objective": objective.name, "oracle": "full batch" if cycles is None else "reshuffle",
                 "layers": format_layers(optimizer.layers), "K": optimizer.K, "P": optimizer.P,
                 "cycles_per_epoch": cycles, "m": None if cycles is None else cycles * optimizer.K,
                 "mean": "exact" if not np.any(order.monte_carlo_error) else "monte carlo",
                 "lr": order.lrs.tolist(), "error_modified": order.error_modified.tolist(),
                 "error_plain": order.error_plain.tolist(), "monte_carlo_error": order.monte_carlo_error.tolist(),
                 "slope_plain": plain, "slope_plain_interval": [plain_low, plain_high],
                 "threshold": ORDER_THRESHOLD},
        predicted=3.0, kind=claim.kind, measured=slope, interval=(low, high), verdict=verdict)


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
    None for the exact mean) and the number of etas per fit."""

    settings: tuple
    etas_per_fit: int


PRESETS = {
    "quick": ModifiedLossPreset((("SGD", None, None), ("LA", None, None), ("MLA-2", None, None),
                                 ("SGD", 4, None), ("LA", 1, None), ("LA", 2, None), ("MLA-2", 2, None)), 4),
    "default": ModifiedLossPreset(_DEFAULT_SETTINGS, 5),
    "full": ModifiedLossPreset(_DEFAULT_SETTINGS + (("MLA-3", 2, 1_600_000),), 7),
}


def _objective(cycles: int | None, layers):
    """Full batch: robust regression (d = 3); reshuffled: the valley with m = N K components."""
    if cycles is None:
        return robust_regression(3, 0)
    return valley(2, 0, m=cycles * MLA(layers).K)


@dataclass
class OrderCase:
    """One setting's errors against both flows."""

    label: str
    cycles: int | None
    objective: Objective
    order: OrderResult

    @property
    def name(self) -> str:
        return self.label if self.cycles is None else f"{self.label}, N={self.cycles}"


def measure(preset: ModifiedLossPreset, seed: int = 0, progress: bool | None = None) -> list:
    """[OrderCase] for each setting of the preset."""
    cases = []
    for label, cycles, samples in preset.settings:
        objective = _objective(cycles, LAYERS[label])
        x0 = objective.start() + 0.5
        high = 0.064 if samples else 0.016  # Monte Carlo needs errors well above its noise
        lrs = default_lrs(objective, x0, high / 8, high, preset.etas_per_fit)
        cases.append(OrderCase(label, cycles, objective, order_run(objective, LAYERS[label], cycles, samples,
                                                                   lrs, seed=seed)))
    return cases


def judge(cases: list) -> list:
    return [check_order(case.order, case.objective, LAYERS[case.label], case.cycles) for case in cases]


def artifacts(cases: list, results: list) -> list:
    """Per claim a figure of the errors against eta and a CSV; one JSON of the checks."""
    from ..plotting import order_figure

    files = []
    for claim, title in (("C3", "C3: one full-batch cycle, robust regression"),
                         ("C4", "C4: mean reshuffled epoch, valley")):
        orders = {case.name: case.order for case, check in zip(cases, results) if check.claim == claim}
        files += [Figure(f"order_{claim}.png", lambda path, orders=orders, title=title: order_figure(orders, path, title)),
                  Table(f"order_{claim}.csv", ("setting", "lr", "error_modified", "error_plain", "monte_carlo_error"),
                        [[label, lr, e, p, n] for label, order in orders.items()
                         for lr, e, p, n in zip(order.lrs, order.error_modified, order.error_plain,
                                                order.monte_carlo_error)])]
    for check in results:
        check.figures, check.data = [f"order_{check.claim}.png"], [f"order_{check.claim}.csv", "modified_loss.json"]
    return files + [Document("modified_loss.json", results)]


GROUP = CheckGroup(
    name="modified-loss", claims=(C3, C4), presets=PRESETS, measure=measure, judge=judge, artifacts=artifacts,
    cost=8.0, summary="claims C3 and C4: the derived modified losses are accurate to O(eta^3)",
    description="Fit the log-log slope of the error of one full-batch cycle (C3) and of the mean reshuffled epoch "
                "(C4, exact over all m! orders) against the modified flow (slope 3 expected) and the plain flow "
                "(slope 2), for SGD, Lookahead and 2- and 3-layer MLA.",
    full_help="more etas and a Monte Carlo epoch with m = 16")
