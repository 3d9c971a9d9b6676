"""Built-in objectives and the registry the command line reads.

Every factory takes ``(dim, seed)`` first, so ``make(name, dim, seed)`` builds any of them; the
``seed`` drives the family's data generator and is echoed in ``Objective.params``.
"""
from __future__ import annotations

from collections.abc import Callable

from .base import Objective
from .finite_sum import valley
from .nonconvex import logistic_nonconvex, robust_regression, separable_wells
from .nqm import noisy_quadratic, nqm_noise
from .quadratic import dense_quadratic, diagonal_quadratic, quadratic_parts

__all__ = ["Objective", "BUILTIN", "make", "diagonal_quadratic", "dense_quadratic",
           "noisy_quadratic", "nqm_noise", "quadratic_parts", "robust_regression",
           "logistic_nonconvex", "separable_wells", "valley"]

BUILTIN: dict[str, Callable[..., Objective]] = {
    "quadratic": diagonal_quadratic,
    "dense-quadratic": dense_quadratic,
    "nqm": noisy_quadratic,
    "robust-regression": robust_regression,
    "logistic-nonconvex": logistic_nonconvex,
    "wells": separable_wells,
    "valley": valley,
}


def make(name: str, dim: int | None = None, seed: int = 0) -> Objective:
    """Build the built-in objective ``name`` with dimension ``dim`` (its default when None)."""
    if name not in BUILTIN:
        raise ValueError(f"unknown objective {name!r}; choose from {', '.join(BUILTIN)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 63:
        raise ValueError(f"the data seed must be an integer in [0, 2**63), got {seed!r}")
    return BUILTIN[name](seed=seed) if dim is None else BUILTIN[name](dim, seed)
