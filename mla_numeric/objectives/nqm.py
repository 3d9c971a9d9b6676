"""The noisy quadratic model (NQM) of Zhang et al. (2019), THEORY.md claim C6.

Loss l(x, c) = 1/2 sum_i h_i (x_i - c_i)^2 with c_i ~ N(0, s_i^2) drawn afresh at every oracle
call. Its expectation is E_c l = 1/2 sum_i h_i x_i^2 + 1/2 sum_i h_i s_i^2; the objective here is
the excess f(x) = 1/2 sum_i h_i x_i^2 (the constant is dropped), a diagonal quadratic with x* = 0,
so L = max_i h_i and f_low = 0 (quadratic.py). The stochastic gradient h_i (x_i - c_i) equals
grad f(x)_i + xi_i with xi_i ~ N(0, h_i^2 s_i^2): Gaussian noise with per-coordinate standard
deviation h_i s_i, which ``nqm_noise`` returns as an oracle.

Default spectrum, as in Zhang et al.: h_i = 1/i and s_i^2 = 1/i, i = 1..d.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike

from ..oracles import GaussianNoise
from ..spec import check_finite_array, check_positive
from .base import Objective
from .quadratic import diagonal_quadratic

__all__ = ["noisy_quadratic", "nqm_noise"]


def noisy_quadratic(dim: int = 100, seed: int = 0, *, h: ArrayLike | None = None,
                    s: ArrayLike | None = None) -> Objective:
    """The NQM's expected excess loss f(x) = 1/2 sum_i h_i x_i^2; pair it with ``nqm_noise``.

    ``seed`` is unused by the default spectrum (which is deterministic) and kept for the
    registry's uniform signature.
    """
    dim = check_positive("dim", dim, integer=True)
    i = np.arange(1, dim + 1, dtype=np.float64)
    h = 1.0 / i if h is None else check_finite_array("h", h, (dim,))
    s = np.sqrt(1.0 / i) if s is None else check_finite_array("s", s, (dim,))
    if np.any(s < 0):
        raise ValueError("s (noise scales) must be >= 0")
    objective = diagonal_quadratic(dim, seed, h=h, xstar=np.zeros(dim), name="nqm")
    params = {"family": "nqm", "h": h.tolist(), "s": s.tolist()}
    return replace(objective, params=params, validate=False)  # validated as built just above


def nqm_noise(objective: Objective) -> GaussianNoise:
    """The NQM oracle: Gaussian gradient noise with standard deviation h_i s_i per coordinate."""
    if objective.params.get("family") != "nqm":
        raise ValueError(f"nqm_noise needs an NQM objective, got {objective.name!r}")
    return GaussianNoise(scale=np.array(objective.params["h"]) * np.array(objective.params["s"]))
