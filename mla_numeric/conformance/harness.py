"""Drive an optimizer with the toolkit's gradients and judge it against the engine (claim C8).

An ``Adapter`` is four plain functions: ``init(x0) -> state``, ``step(state, g) -> state`` (one
optimizer step with the gradient g, made at the current fast weights), ``fast(state)`` and
``slow(state)`` (the fast weights and the outermost slow weights as arrays; ``slow`` may return
None while the optimizer has no slow weights yet). ``drive`` makes oracle call c at the
optimizer's own fast point x_c: G_c = grad f(x_c) (+ the engine's noise of call c, reference.py),
and records x_c for every call and the slow weights after every top-level cycle of K calls.

Deviation. With S the largest norm of the reference's iterates, the deviation before call c is
||x_c - x_c^ref|| / S, and at a cycle boundary c = t K also ||phi_t - phi_t^ref|| / S (index
c = cycles K: after the last call); NaN counts as infinite. An implementation conforms when the
largest deviation is at most RTOL = 1e-10; otherwise the first deviation is the first call c whose
deviation exceeds RTOL.

Diagnosis. The known causes (reference.CAUSES) are checked one by one: each is run as a defective
reference, alone, then in pairs, triples, ... ; the diagnosis is the smallest set of causes whose
defective reference reproduces the implementation (to RTOL over the whole run). If none does,
the diagnosis says so and names the cause that follows the implementation longest.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._typing import FloatArray, Layers
from ..objectives.base import Objective
from ..oracles import GaussianNoise
from .reference import (
    AT_FIRST_CALL,
    AT_FIRST_SYNC,
    CAUSES,
    LATE_INIT,
    Gradient,
    Record,
    engine_noise,
    engine_reference,
    reference_run,
)

__all__ = ["RTOL", "Adapter", "Setting", "Comparison", "drive", "deviation", "diagnose", "compare"]

RTOL = 1e-10
CONFORMS, DEVIATES, NOT_INSTALLED = "conforms", "deviates", "not installed"


@dataclass(frozen=True)
class Adapter:
    """An optimizer as four functions (module docstring). Any optimizer fits: give them directly.
    The state is the optimizer's own (Any): the harness only passes it back."""

    init: Callable[[FloatArray], Any]                # x0 -> state
    step: Callable[[Any, FloatArray], Any]           # (state, g) -> state
    fast: Callable[[Any], ArrayLike]                 # state -> fast weights
    slow: Callable[[Any], ArrayLike | None]          # state -> outermost slow weights, None while none


@dataclass(frozen=True, eq=False)
class Setting:
    """Where implementations are compared: objective, start, inner learning rate, run length and
    oracle (sigma = 0: exact gradients; else the engine's GaussianNoise(sigma) of stream (seed,
    replicate))."""

    objective: Objective
    x0: FloatArray
    lr: float
    cycles: int
    sigma: float = 0.0
    seed: int = 0
    replicate: int = 0

    @property
    def gradients(self) -> str:
        return "exact" if self.sigma == 0 else f"noisy (sigma = {self.sigma:g})"

    def oracle(self, calls: int) -> Gradient:
        """gradient(x, c): oracle call c at x."""
        objective = self.objective
        if self.sigma == 0:
            return lambda x, c: objective.gradient(x)
        noise = engine_noise(self.seed, self.replicate, np.arange(calls),
                             GaussianNoise(self.sigma).noise_scale(objective.dim))
        return lambda x, c: objective.gradient(x) + noise[c]


@dataclass(frozen=True)
class Comparison:
    """One implementation, one nesting, one oracle.

    verdict : "conforms" or "deviates"
    first_deviation : int or None
        The first oracle call c (0-based, the engine's counter) before which the fast or slow
        weights differ by more than RTOL (cycles K: after the last call).
    max_rel_deviation : float
    diagnosis : str or None
        The smallest set of known causes that reproduces the implementation, or "unexplained ...".
    causes : dict
        For each known cause checked alone: the first call where its defective reference and the
        implementation part (None: it reproduces the implementation). For an implementation that
        conforms, only the causes that change the algorithm in this setting (their defective
        reference differs from the correct one somewhere): None there means the defect would have
        gone unnoticed, and the check has no power against it.
    deviation : ndarray (cycles K + 1,)
        Deviation before every call (module docstring).
    error : str or None
        What the implementation raised, if it raised (first_deviation is then that call).
    """

    layers: Layers
    gradients: str
    verdict: str
    first_deviation: int | None
    max_rel_deviation: float
    diagnosis: str | None
    causes: dict[str, int | None] = field(default_factory=dict)
    deviation: FloatArray | None = None
    error: str | None = None


def drive(adapter: Adapter, x0: ArrayLike, calls: int, K: int, gradient: Gradient
          ) -> tuple[Record, int | None, str | None]:
    """Run ``adapter`` for ``calls`` oracle calls from x0; return (record, failing call, error).

    If the optimizer raises at call c, the record is NaN from c on, and (c, message) is returned.
    """
    x0 = np.asarray(x0, dtype=np.float64)
    fast = np.full((calls, len(x0)), np.nan)
    slow = np.full((calls // K, len(x0)), np.nan)
    c = 0
    try:
        state = adapter.init(x0.copy())
        for c in range(calls):
            x = np.array(adapter.fast(state), dtype=np.float64).reshape(-1)
            fast[c] = x
            state = adapter.step(state, gradient(x.copy(), c))
            if (c + 1) % K == 0:
                value = adapter.slow(state)
                if value is not None:
                    slow[(c + 1) // K - 1] = np.asarray(value, dtype=np.float64).reshape(-1)
    except Exception as error:  # the implementation under test failed: a finding, not a crash
        return Record(fast, slow), c, f"{type(error).__name__}: {error}"
    return Record(fast, slow), None, None


def deviation(record: Record, reference: Record) -> FloatArray:
    """Relative deviation before every call c = 0..N (module docstring)."""
    scale = max(np.max(np.linalg.norm(reference.fast, axis=1)),
                np.max(np.linalg.norm(reference.slow, axis=1)))
    scale = scale if scale > 0 else 1.0
    K = len(reference.fast) // len(reference.slow)
    out = np.zeros(len(reference.fast) + 1)
    out[:-1] = np.linalg.norm(record.fast - reference.fast, axis=1) / scale
    slow = np.linalg.norm(record.slow - reference.slow, axis=1) / scale
    slow[np.isnan(record.slow).all(axis=1) & np.isnan(reference.slow).all(axis=1)] = 0.0  # neither has any
    out[K::K] = np.maximum(out[K::K], slow)
    return np.where(np.isnan(out), np.inf, out)


def _first(dev: FloatArray) -> int | None:
    over = np.flatnonzero(dev > RTOL)
    return int(over[0]) if len(over) else None


def _variants(causes: tuple[str, ...]) -> list[tuple[tuple[str, ...], str, str]]:
    """The defective references to try for a set of causes: (causes, late, label)."""
    if LATE_INIT not in causes:
        return [(causes, AT_FIRST_SYNC, " + ".join(causes))]
    return [(causes, late, " + ".join(c if c != LATE_INIT else f"{c} ({late})" for c in causes))
            for late in (AT_FIRST_CALL, AT_FIRST_SYNC)]


def diagnose(record: Record, setting: Setting, layers: Layers, gradient: Gradient
             ) -> tuple[str, dict[str, int | None]]:
    """(diagnosis, {cause: first call where that cause alone parts from the implementation})."""
    seen: dict[tuple[tuple[str, ...], str], int | None] = {}

    def parts(causes: tuple[str, ...], late: str) -> int | None:
        if (causes, late) not in seen:
            run = reference_run(layers, setting.lr, setting.x0, gradient, setting.cycles, causes, late)
            seen[causes, late] = _first(deviation(record, run))
        return seen[causes, late]

    alone: dict[str, int | None] = {}
    for cause in CAUSES:
        firsts = [parts(causes, late) for causes, late, _ in _variants((cause,))]
        alone[cause] = None if None in firsts else max(first for first in firsts if first is not None)
    for size in range(1, len(CAUSES) + 1):
        found = [label for causes in itertools.combinations(CAUSES, size)
                 for causes, late, label in _variants(causes) if parts(causes, late) is None]
        if found:
            return " or ".join(found), alone
    parted = {cause: first for cause, first in alone.items() if first is not None}  # every cause: none reproduces it
    closest = max(parted, key=parted.__getitem__)
    return f"unexplained (closest: {closest}, reproduces it up to call {alone[closest]})", alone


def detected(record: Record, setting: Setting, layers: Layers, gradient: Gradient) -> dict[str, int | None]:
    """{cause: first call where its defective reference parts from the implementation (None: never)}
    for each known cause that changes the algorithm in this setting; a cause that does not (e.g.
    "inner slow weights not re-synchronised" with one layer) is left out."""
    correct = reference_run(layers, setting.lr, setting.x0, gradient, setting.cycles)
    found: dict[str, int | None] = {}
    for cause in CAUSES:
        firsts = []
        for causes, late, _ in _variants((cause,)):
            run = reference_run(layers, setting.lr, setting.x0, gradient, setting.cycles, causes, late)
            if deviation(run, correct).max() > 0:
                firsts.append(_first(deviation(record, run)))
        if firsts:
            found[cause] = None if None in firsts else max(first for first in firsts if first is not None)
    return found


def compare(adapter: Adapter, layers: Iterable[tuple[int, float]], setting: Setting) -> Comparison:
    """Judge ``adapter`` on the nesting ``layers`` ((k_i, alpha_i), innermost first) in ``setting``."""
    layers = tuple((int(k), float(a)) for k, a in layers)
    K = math.prod(k for k, _ in layers)
    calls = setting.cycles * K
    gradient = setting.oracle(calls)
    reference = engine_reference(setting.objective, layers, setting.lr, setting.x0, setting.cycles,
                                 gradient, setting.sigma, setting.seed, setting.replicate)
    record, failed_at, error = drive(adapter, setting.x0, calls, K, gradient)
    dev = deviation(record, reference)
    first = _first(dev)
    if error is not None:
        return Comparison(layers, setting.gradients, DEVIATES, first, math.inf,
                          f"raised {error} at call {failed_at}", {}, dev, error)
    if first is None:
        return Comparison(layers, setting.gradients, CONFORMS, None, float(dev.max()), None,
                          detected(record, setting, layers, gradient), dev)
    diagnosis, alone = diagnose(record, setting, layers, gradient)
    return Comparison(layers, setting.gradients, DEVIATES, first, float(dev.max()), diagnosis, alone, dev)
