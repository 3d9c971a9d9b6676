"""What a conforming implementation must compute, and the known ways of getting it wrong.

The gradient of oracle call c at the point x is

    G_c(x) = grad f(x) + noise_c,     noise_c[q] = s_q * normal(key(seed, replicate), c d + q),

the engine's Gaussian oracle (oracles.py, engine.py): ``engine_noise`` rebuilds noise_c from the
public stream functions of rng.py, so the engine's own ``simulate(..., trajectory=True)`` run is the
reference. ``reference_run`` steps nested Lookahead in plain NumPy with the same arithmetic as
the engine's kernel (x <- x - eta G; phi_i <- phi_i + alpha_i (phi_{i-1} - phi_i)) and records
what the engine does not: the fast point of every oracle call. ``engine_reference`` runs both and
insists that they agree on the slow weights.

Defects. ``reference_run(..., causes=...)`` also runs the algorithm with known defects, alone or
combined (``CAUSES``); ``diagnose`` (harness.py) looks for the defects that reproduce a deviating
implementation. The model underneath is the one every wrapper follows: each level i keeps a slow
copy of what it wraps, counts oracle calls and synchronises when its count reaches its period:

- correct: period B_i = k_1 ... k_i calls, and a synchronisation of level i resets everything it
  wraps (fast weights and the slow weights of levels below) to its new slow weights. This is the
  counter form of THEORY.md; the slow weights of levels below are copies (optax's nested
  ``LookaheadParams``), each interpolated towards its own fast counterpart.
- "periods counted in calls": period k_i calls (what ``lookahead(lookahead(sgd, k1, a1), k2, a2)``
  does: every wrapper counts the calls it sees).
- "inner slow weights not re-synchronised": a level holds a copy of the fast weights only
  (torch wrappers keep one slow tensor per parameter); its synchronisation moves the fast weights
  and leaves the slow weights of the levels below where they were.
- "slow weights initialised late": a level creates its slow weights from the fast weights at its
  first synchronisation (which then moves nothing), either at its first call (its counter is
  tested before it is incremented, so it synchronises at calls 1, 1 + p, 1 + 2p, ...) or after
  its first period.
- "interpolation direction": phi <- x + alpha (phi - x) instead of phi + alpha (x - phi).
- "state reset": the levels share one step counter (nested torch wrappers keep it in the
  parameter groups they share); each increments it and resets it when it reaches its own period,
  so synchronising one level resets the count of the others.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from .._numba import JIT
from .._typing import FloatArray, IntArray
from ..engine import simulate
from ..objectives.base import Objective
from ..oracles import GaussianNoise
from ..rng import normal, stream_keys
from ..spec import MLA

__all__ = ["CAUSES", "AT_FIRST_CALL", "AT_FIRST_SYNC", "Record", "Gradient", "engine_noise", "reference_run",
           "engine_reference"]

Gradient: TypeAlias = Callable[[FloatArray, int], FloatArray]  # gradient(x, c): oracle call c at x
# The weights as _Nesting keeps them: an array, None (a slow copy not taken yet) or a pair [tree, tree].
Tree: TypeAlias = Any

PERIODS_IN_CALLS = "periods counted in calls"
STALE_INNER_SLOW = "inner slow weights not re-synchronised"
LATE_INIT = "slow weights initialised late"
DIRECTION = "interpolation direction"
STATE_RESET = "state reset"
AT_FIRST_CALL, AT_FIRST_SYNC = "at the first call", "at the first synchronisation"
CAUSES = {
    PERIODS_IN_CALLS: "level i synchronises every k_i oracle calls, not every k_i cycles of "
                      "level i-1 (k_1 ... k_i calls)",
    STALE_INNER_SLOW: "a synchronisation moves the fast weights only; the slow weights of the "
                      "levels below keep their old values",
    LATE_INIT: "a level takes its slow weights from the fast weights at its first synchronisation, "
               "not at the start: at its first call (its counter is tested before it is "
               "incremented) or after its first period",
    DIRECTION: "phi <- x + alpha (phi - x) instead of phi <- phi + alpha (x - phi)",
    STATE_RESET: "the levels share one step counter; each increments it and resets it when it "
                 "reaches its own period, so a synchronisation of one level resets the count of the others",
}
ENGINE_RTOL = 1e-13  # the NumPy twin against the engine's slow weights (they agree bit for bit)


@dataclass(frozen=True)
class Record:
    """What an optimizer did over ``cycles`` top-level cycles of K oracle calls.

    fast : ndarray (cycles K, d)
        fast[c] is the point where oracle call c was made.
    slow : ndarray (cycles, d)
        slow[t - 1] is the outermost slow weights after cycle t (after call t K - 1), NaN where
        the optimizer had none.
    """

    fast: FloatArray
    slow: FloatArray


@njit(**JIT)
def _noise(key: np.uint64, calls: IntArray, scale: FloatArray, out: FloatArray) -> None:
    d = scale.shape[0]
    for row in range(calls.shape[0]):
        for q in range(d):
            out[row, q] = scale[q] * normal(key, calls[row] * d + q)


def engine_noise(seed: int, replicate: int, calls: ArrayLike, scale: ArrayLike) -> FloatArray:
    """The Gaussian noise the engine adds to oracle calls ``calls`` of replicate ``replicate``.

    Row j is noise_c for c = calls[j]: noise_c[q] = scale[q] normal(key, c d + q), with the key of
    (seed, replicate) and d = len(scale) (``GaussianNoise.noise_scale(d)``), as in engine._oracle.
    """
    scale = np.asarray(scale, dtype=np.float64)
    calls = np.asarray(calls, dtype=np.int64)
    out = np.empty((len(calls), len(scale)))
    _noise(stream_keys(seed, [replicate])[0], calls, scale, out)
    return out


def _interpolate(slow: Tree, fast: Tree, alpha: float, swapped: bool) -> Tree:
    """Level sync on a tree of arrays: slow + alpha (fast - slow), or swapped fast + alpha (slow - fast).

    A slot not taken yet (None) on either side takes the fast value.
    """
    if slow is None or fast is None:
        return copy.deepcopy(fast)
    if isinstance(slow, list):
        return [_interpolate(s, f, alpha, swapped) for s, f in zip(slow, fast, strict=True)]
    return fast + alpha * (slow - fast) if swapped else slow + alpha * (fast - slow)


def _leaf(tree: Tree, side: int) -> Tree:
    while isinstance(tree, list):
        tree = tree[side]
    return tree


class _Nesting:
    """Nested Lookahead with optional defects (module docstring).

    Deep form (correct re-synchronisation): level i is the pair [what it wraps, slow copy of it],
    level 0 the fast weights; the fast weights are the leaf reached by first elements, the
    outermost slow weights the leaf reached by second elements. Shallow form (stale inner slow
    weights): the fast weights and one slow vector per level. A slow copy is None until it is
    taken (late initialisation).
    """

    def __init__(self, layers: Sequence[tuple[int, float]], lr: float, x0: ArrayLike, causes: set[str],
                 late: str) -> None:
        self.alphas = [a for _, a in layers]
        self.lr = lr
        ks = [k for k, _ in layers]
        self.periods = ks if PERIODS_IN_CALLS in causes else [math.prod(ks[:i + 1]) for i in range(len(ks))]
        self.shallow = STALE_INNER_SLOW in causes
        self.swapped = DIRECTION in causes
        self.counts = [0] * (1 if STATE_RESET in causes else len(ks))
        self.late = late if LATE_INIT in causes else None
        self.x = np.array(x0, dtype=np.float64)
        initial: Callable[[Tree], Tree] = (lambda tree: None) if self.late else copy.deepcopy
        if self.shallow:
            self.slows: list[FloatArray | None] = [initial(self.x) for _ in ks]
        else:
            self.tree: Tree = self.x
            for _ in ks:
                self.tree = [self.tree, initial(self.tree)]

    def outer_slow(self) -> FloatArray | None:
        """The outermost slow weights (a copy), None before they are taken."""
        slow = (self.slows[-1] if self.slows else self.x) if self.shallow else _leaf(self.tree, 1)
        return None if slow is None else slow.copy()

    def step(self, g: FloatArray) -> None:
        self.x -= self.lr * g  # in place: in the deep form x is the tree's fast leaf
        for i, period in enumerate(self.periods):
            j = 0 if len(self.counts) == 1 else i  # one shared counter under "state reset"
            if self.late == AT_FIRST_CALL:  # the counter is tested before it is incremented
                due = self.counts[j] == 0
                self.counts[j] = (self.counts[j] + 1) % period
            else:
                self.counts[j] += 1
                due = self.counts[j] >= period
                if due:
                    self.counts[j] = 0
            if due:
                self._sync(i)

    def _sync(self, i: int) -> None:
        """Level i + 1 synchronises (0-based i); a missing slow copy is taken first."""
        alpha = self.alphas[i]
        if self.shallow:
            slow = self.x.copy() if self.slows[i] is None else self.slows[i]
            self.slows[i] = _interpolate(slow, self.x, alpha, self.swapped)
            self.x[:] = self.slows[i]
            return
        level = self.tree  # the pair of level i + 1, found from the top
        for _ in range(len(self.periods) - 1 - i):
            level = level[0]
        slow = copy.deepcopy(level[0]) if level[1] is None else level[1]
        new = _interpolate(slow, level[0], alpha, self.swapped)
        level[0], level[1] = copy.deepcopy(new), new
        self.x = _leaf(self.tree, 0)


def reference_run(layers: Sequence[tuple[int, float]], lr: float, x0: ArrayLike, gradient: Gradient, cycles: int,
                  causes: Iterable[str] = (), late: str = AT_FIRST_SYNC) -> Record:
    """Run nested Lookahead (with the defects ``causes``, a subset of ``CAUSES``) for ``cycles``
    top-level cycles of K = prod k_i calls; ``gradient(x, c)`` is oracle call c at x.

    ``late`` (AT_FIRST_CALL or AT_FIRST_SYNC) says how "slow weights initialised late" happens.
    Arithmetic as in the engine's kernel.
    """
    unknown = set(causes) - set(CAUSES)
    if unknown:
        raise ValueError(f"unknown causes {sorted(unknown)}; choose from {list(CAUSES)}")
    if late not in (AT_FIRST_CALL, AT_FIRST_SYNC):
        raise ValueError(f"late must be {AT_FIRST_CALL!r} or {AT_FIRST_SYNC!r}, got {late!r}")
    nesting = _Nesting(layers, lr, x0, set(causes), late)
    K = math.prod(k for k, _ in layers)
    fast = np.empty((cycles * K, len(nesting.x)))
    slow = np.full((cycles, len(nesting.x)), np.nan)
    for c in range(cycles * K):
        fast[c] = nesting.x
        nesting.step(gradient(nesting.x, c))
        if (c + 1) % K == 0:
            outer = nesting.outer_slow()
            if outer is not None:
                slow[(c + 1) // K - 1] = outer
    return Record(fast, slow)


def engine_reference(objective: Objective, layers: Sequence[tuple[int, float]], lr: float, x0: ArrayLike, cycles: int,
                     gradient: Gradient, sigma: float = 0.0, seed: int = 0, replicate: int = 0) -> Record:
    """The reference record: ``reference_run`` without defects, checked against the engine.

    The engine's ``simulate(..., trajectory=True)`` gives the slow weights after every cycle for
    the same oracle (``GaussianNoise(sigma)``, stream (seed, replicate)); the twin adds the fast
    point of every call. RuntimeError if they differ by more than ENGINE_RTOL (a toolkit bug).
    """
    record = reference_run(layers, lr, x0, gradient, cycles)
    run = simulate(objective, MLA(layers, lr), cycles, [replicate], GaussianNoise(sigma), x0,
                   seed=seed, trajectory=True, progress=False)
    assert run.trajectory is not None  # asked for with trajectory=True
    engine = run.trajectory[0, 1:]
    scale = max(np.abs(engine).max(), np.abs(record.fast).max())
    if not np.all(np.abs(record.slow - engine) <= ENGINE_RTOL * scale):
        raise RuntimeError("the NumPy twin of nested Lookahead differs from the engine's "
                           f"trajectory for layers {layers}: a toolkit bug")
    return Record(record.fast, engine.copy())
