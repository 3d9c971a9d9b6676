"""Stochastic gradient oracles G(x, xi) with E G = grad f(x) (THEORY.md, Setting).

- ``GaussianNoise(sigma)``: G = grad f(x) + sigma z / sqrt(d), z ~ N(0, I), so that
  E||G - grad f||^2 = sigma^2 exactly; or ``GaussianNoise(scale=s)``: independent N(0, s_i^2)
  noise per coordinate (the NQM's oracle).
- ``WithReplacement()``: G = grad f_a(x) with a uniform in {0..m-1}, independently per call.
- ``RandomReshuffling()``: calls c = e m .. e m + m - 1 of epoch e visit the components in a
  fresh uniformly random order (Fisher-Yates on the stream), so E G = grad f as well.
- ``PrescribedOrders(orders)``: replicate r visits the components in the order ``orders[r]`` in
  every epoch. Not random: running one replicate per order of m components gives exact
  expectations over random reshuffling (``checks.modified_flow.epoch_mean``).

For finite sums the components f_a are the minibatch losses: one call evaluates one f_a.
The oracle's randomness comes from the counter-based stream (rng.py), keyed by
(seed, replicate, index of the oracle call).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Final, Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

from ._typing import JSON, FloatArray, IntArray
from .spec import check_finite_array, check_real

__all__ = ["GaussianNoise", "WithReplacement", "RandomReshuffling", "PrescribedOrders",
           "make_oracle", "ORACLES", "Oracle"]

# The engine's oracle kinds. Final, so that each class's ``kind`` is a literal type and a test
# ``oracle.kind == PRESCRIBED`` narrows an ``Oracle`` to ``PrescribedOrders`` for type checkers.
GAUSSIAN: Final = 0
REPLACEMENT: Final = 1
RESHUFFLE: Final = 2
PRESCRIBED: Final = 3


@dataclass(frozen=True, eq=False)
class GaussianNoise:
    """Additive Gaussian noise: total variance ``sigma**2``, or per-coordinate deviations ``scale``."""

    sigma: float = 0.0
    scale: ArrayLike | None = None
    name: ClassVar[str] = "gaussian"
    kind: ClassVar[Literal[0]] = GAUSSIAN

    def __post_init__(self) -> None:
        check_real("sigma", self.sigma, nonnegative=True)
        if self.scale is not None and self.sigma != 0:
            raise ValueError("give either sigma (total noise) or scale (per coordinate), not both")

    def noise_scale(self, dim: int) -> FloatArray:
        """Per-coordinate standard deviations."""
        if self.scale is None:
            return np.full(dim, self.sigma / math.sqrt(dim))
        scale = check_finite_array("scale", self.scale, (dim,))
        if np.any(scale < 0):
            raise ValueError("scale (noise standard deviations) must be >= 0")
        return scale

    def to_dict(self, dim: int) -> JSON:
        if self.scale is None:
            return {"name": self.name, "sigma": float(self.sigma), "scale": None}
        scale = self.noise_scale(dim)
        return {"name": self.name, "sigma": float(np.sqrt(np.sum(scale ** 2))), "scale": scale.tolist()}


class _ComponentOracle:
    """An oracle that returns one component's gradient per call, with no added noise."""

    name: ClassVar[str]

    def noise_scale(self, dim: int) -> FloatArray:
        return np.zeros(dim)

    def to_dict(self, dim: int) -> JSON:
        return {"name": self.name}


@dataclass(frozen=True)
class WithReplacement(_ComponentOracle):
    """One uniformly random component per call, independent across calls."""

    name: ClassVar[str] = "replacement"
    kind: ClassVar[Literal[1]] = REPLACEMENT


@dataclass(frozen=True)
class RandomReshuffling(_ComponentOracle):
    """Every component once per epoch of m calls, in a fresh uniformly random order."""

    name: ClassVar[str] = "reshuffle"
    kind: ClassVar[Literal[2]] = RESHUFFLE


@dataclass(frozen=True, eq=False)
class PrescribedOrders(_ComponentOracle):
    """Replicate r takes the components in the order ``orders[r]`` (a permutation of 0..m-1)."""

    orders: ArrayLike | None = None
    name: ClassVar[str] = "orders"
    kind: ClassVar[Literal[3]] = PRESCRIBED

    def check(self, replicates: IntArray, m: int) -> IntArray:
        """The orders of ``replicates``, after checking each is a permutation of 0..m-1."""
        orders = np.asarray(self.orders)
        if orders.ndim != 2 or orders.shape[1] != m or orders.dtype.kind not in "iu":
            raise ValueError(f"orders must be an integer array of shape (R, m = {m}), got shape {orders.shape}")
        if replicates.max() >= len(orders):
            raise ValueError(f"orders has {len(orders)} rows but replicate {replicates.max()} was asked for")
        chosen: IntArray = orders[replicates].astype(np.int64)
        if np.any(np.sort(chosen, axis=1) != np.arange(m)):
            raise ValueError(f"every row of orders must be a permutation of 0..{m - 1}")
        return chosen

    def to_dict(self, dim: int) -> JSON:
        return {"name": self.name, "orders": np.asarray(self.orders).tolist()}


Oracle: TypeAlias = GaussianNoise | WithReplacement | RandomReshuffling | PrescribedOrders
"""Any oracle the engine runs (``simulate(..., oracle=...)``); ``kind`` tells them apart."""

ORACLES: dict[str, type[GaussianNoise] | type[WithReplacement] | type[RandomReshuffling]] = {
    "gaussian": GaussianNoise, "replacement": WithReplacement, "reshuffle": RandomReshuffling}


def make_oracle(name: str, sigma: float = 0.0) -> GaussianNoise | WithReplacement | RandomReshuffling:
    """The oracle called ``name`` (gaussian, replacement, reshuffle)."""
    if name not in ORACLES:
        raise ValueError(f"unknown oracle {name!r}; choose from {', '.join(ORACLES)}")
    return GaussianNoise(sigma) if name == "gaussian" else ORACLES[name]()
