"""Claim C0 (a worked example): gradient descent with eta <= 1/L decreases f by eta/2 ||grad f||^2 a step.

Setting
    Exact gradients (no noise), SGD with eta = ``step_times_L`` / L from the objective's start, on
    the built-in quadratic and separable wells (d = 5), T steps.
Claim
    The descent lemma: f(x_{t+1}) <= f(x_t) - eta (1 - L eta / 2) ||grad f(x_t)||^2 for every t.
Source
    Nesterov (2004), Introductory Lectures on Convex Optimization, Lemma 1.2.3.
How it is decided
    Rule ``bound``: the largest excess max_t [f(x_{t+1}) - f(x_t) + eta (1 - L eta / 2)
    ||grad f(x_t)||^2], relative to f(x_0) - f_low, must stay below ``ROUNDING`` (the run is
    deterministic, so its interval is the point itself). Matched control, same run: the decrease
    claimed ``CONTROL_FACTOR`` times larger must be rejected (the lemma is tight on both objectives).
    Resolution: the largest factor by which the claimed decrease could grow and still hold.
Negative control
    eta = 2.5 / L violates the premise; the quadratic's excess is then positive and the check fails
    (tests/test_adding_a_check.py).
Example
    >>> data, results = GROUP.run(GROUP.preset("quick"))
    >>> [result.verdict for result in results]
    ['holds', 'holds']
"""
from dataclasses import dataclass

import numpy as np

from mla_numeric import MLA, objectives, simulate
from mla_numeric.checks import stats
from mla_numeric.checks.group import CheckGroup, Claim, Table
from mla_numeric.checks.result import CheckResult, Control, Resolution

ROUNDING = 1e-12
CONTROL_FACTOR = 2.0
C0 = Claim("C0", "Descent lemma", "f(x_{t+1}) <= f(x_t) - eta (1 - L eta/2) ||grad f(x_t)||^2 for eta <= 1/L",
           "Nesterov (2004), Lemma 1.2.3", "bound",
           f"the largest excess over the steps, relative to f(x_0) - f_low; {stats.RULES['bound']} "
           f"(the bound being {ROUNDING:g}, rounding)")


@dataclass(frozen=True)
class DescentPreset:
    T: int
    step_times_L: float = 1.0
    objectives: tuple = ("quadratic", "wells")


def measure(preset: DescentPreset, seed: int = 0, progress=None) -> list:
    """(objective, decrease of f per step, claimed decrease per step), both relative to f(x_0) - f_low."""
    rows = []
    for name in preset.objectives:
        objective = objectives.make(name, 5, seed)
        eta = preset.step_times_L / objective.L
        run = simulate(objective, MLA([], eta), preset.T)
        f, g = run.loss_records[0], run.grad_norm_sq_records[0]
        scale = f[0] - objective.f_low
        rows.append((name, (f[:-1] - f[1:]) / scale, eta * (1 - objective.L * eta / 2) * g[:-1] / scale))
    return rows


def _excess(decrease, claimed, factor: float = 1.0) -> float:
    return float(np.max(factor * claimed - decrease))


def judge(rows: list) -> list:
    results = []
    for name, decrease, claimed in rows:
        worst, control = _excess(decrease, claimed), _excess(decrease, claimed, CONTROL_FACTOR)
        largest = float(np.min((decrease + ROUNDING)[claimed > 0] / claimed[claimed > 0], initial=np.inf))
        results.append(CheckResult(
            "C0", C0.statement, C0.source, {"objective": name, "layers": "sgd"}, ROUNDING, C0.kind, worst,
            (worst, worst), stats.bound_verdict([worst], [worst], [ROUNDING]),
            control=[Control(f"the claimed decrease x {CONTROL_FACTOR:g}", ROUNDING, control, (control, control),
                             stats.bound_verdict([control], [control], [ROUNDING]))],
            resolution=Resolution("factor on the claimed decrease that still holds", largest)))
    return results


def artifacts(rows: list, results: list) -> list:
    for result in results:
        result.data = ["descent.csv"]
    return [Table("descent.csv", ("objective", "step", "decrease", "claimed_decrease"),
                  [[name, t, d, c] for name, decrease, claimed in rows
                   for t, (d, c) in enumerate(zip(decrease, claimed, strict=True))])]


GROUP = CheckGroup(
    name="descent", claims=(C0,), measure=measure, judge=judge, artifacts=artifacts,
    presets={"quick": DescentPreset(50), "default": DescentPreset(200), "full": DescentPreset(2000)},
    summary="claim C0 (example): the descent lemma for gradient descent",
    description="Gradient descent with exact gradients and eta = 1/L decreases f by at least eta/2 "
                "||grad f||^2 at every step.")
