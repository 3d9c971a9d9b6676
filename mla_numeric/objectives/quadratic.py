"""Quadratics f(x) = 1/2 (x - x*)^T A (x - x*), A symmetric positive semidefinite.

Derivation of the metadata: grad f(x) = A (x - x*) and Hess f = A, so
||grad f(x) - grad f(y)|| = ||A (x - y)|| <= lambda_max(A) ||x - y||: L = lambda_max(A), and
tight. f >= 0 because A is PSD, with equality at x*: f_low = 0 (attained).

Two families with the same formula: ``diagonal`` (A = diag(h), O(d) per gradient) and ``dense``.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from .._numba import JIT
from .._typing import FloatArray
from ..spec import check_finite_array, check_positive
from .base import Data, Objective

__all__ = ["diagonal_quadratic", "dense_quadratic", "quadratic_parts"]


@njit(**JIT)
def _diag_value(x: FloatArray, data: Data) -> float:
    h, xstar = data
    total = 0.0
    for i in range(x.shape[0]):
        e = x[i] - xstar[i]
        total += h[i] * e * e
    return 0.5 * total


@njit(**JIT)
def _diag_grad(x: FloatArray, data: Data, out: FloatArray) -> None:
    h, xstar = data
    for i in range(x.shape[0]):
        out[i] = h[i] * (x[i] - xstar[i])


@njit(**JIT)
def _diag_hvp(x: FloatArray, v: FloatArray, data: Data, out: FloatArray) -> None:
    h = data[0]
    for i in range(x.shape[0]):
        out[i] = h[i] * v[i]


@njit(**JIT)
def _dense_value(x: FloatArray, data: Data) -> float:
    A, xstar = data
    e = x - xstar
    return 0.5 * (e @ (A @ e))  # type: ignore[return-value]  # 1-D @ 1-D is a scalar; numpy's stubs say array


@njit(**JIT)
def _dense_grad(x: FloatArray, data: Data, out: FloatArray) -> None:
    A, xstar = data
    d = x.shape[0]
    for i in range(d):
        total = 0.0
        for j in range(d):
            total += A[i, j] * (x[j] - xstar[j])
        out[i] = total


@njit(**JIT)
def _dense_hvp(x: FloatArray, v: FloatArray, data: Data, out: FloatArray) -> None:
    A = data[0]
    d = x.shape[0]
    for i in range(d):
        total = 0.0
        for j in range(d):
            total += A[i, j] * v[j]
        out[i] = total


def diagonal_quadratic(dim: int = 10, seed: int = 0, *, h: ArrayLike | None = None, xstar: ArrayLike | None = None,
                       condition: float = 100.0, name: str = "quadratic") -> Objective:
    """f(x) = 1/2 sum_i h_i (x_i - x*_i)^2.

    Parameters
    ----------
    dim, seed : int
        Size, and the seed of the generated data when ``h`` or ``xstar`` are not given.
    h : array, optional
        Curvatures >= 0 (default: log-spaced from 1 down to 1/condition, so L = 1).
    xstar : array, optional
        The minimiser (default: N(0, I) from ``seed``).
    """
    dim = check_positive("dim", dim, integer=True)
    if h is None:
        h = np.geomspace(1.0, 1.0 / check_positive("condition", condition), dim)
    h = check_finite_array("h", h, (dim,))
    if np.any(h < 0):
        raise ValueError("h (curvatures) must be >= 0")
    if xstar is None:
        xstar = np.random.default_rng(seed).standard_normal(dim)
    xstar = check_finite_array("xstar", xstar, (dim,))
    return Objective(
        name=name, dim=dim, data=(h, xstar), value=_diag_value, grad=_diag_grad, hvp=_diag_hvp,
        L=float(h.max()), f_low=0.0,
        params={"family": "diagonal_quadratic", "seed": seed, "h": h.tolist(), "xstar": xstar.tolist()})


def dense_quadratic(dim: int = 10, seed: int = 0, *, A: ArrayLike | None = None, xstar: ArrayLike | None = None,
                    condition: float = 100.0, name: str = "dense-quadratic") -> Objective:
    """f(x) = 1/2 (x - x*)^T A (x - x*) with a dense PSD A.

    By default A = Q diag(h) Q^T with Q a Haar-random orthogonal matrix from ``seed`` and h
    log-spaced from 1 to 1/condition, and x* ~ N(0, I) from the same generator.
    """
    dim = check_positive("dim", dim, integer=True)
    rng = np.random.default_rng(seed)
    given = {"A": A, "xstar": xstar}
    if A is None:
        q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
        q *= np.sign(np.diag(r))
        generated = (q * np.geomspace(1.0, 1.0 / check_positive("condition", condition), dim)) @ q.T
        A = 0.5 * (generated + generated.T)
    A = check_finite_array("A", A, (dim, dim))
    if not np.allclose(A, A.T, rtol=0, atol=1e-12 * max(1.0, np.abs(A).max())):
        raise ValueError("A must be symmetric")
    eigenvalues = np.linalg.eigvalsh(A)
    if eigenvalues[0] < -1e-12 * max(1.0, eigenvalues[-1]):
        raise ValueError(f"A must be positive semidefinite; its smallest eigenvalue is {eigenvalues[0]:g}")
    if xstar is None:
        xstar = rng.standard_normal(dim)
    xstar = check_finite_array("xstar", xstar, (dim,))
    A = np.ascontiguousarray(A)
    return Objective(
        name=name, dim=dim, data=(A, xstar), value=_dense_value, grad=_dense_grad, hvp=_dense_hvp,
        L=float(eigenvalues[-1]), f_low=0.0,
        params={"family": "dense_quadratic", "seed": seed, "condition": condition,
                "eigenvalues": eigenvalues.tolist(),
                **{name: np.asarray(value, dtype=float).tolist() for name, value in given.items()
                   if value is not None}})


def quadratic_parts(objective: Objective) -> tuple[FloatArray, FloatArray]:
    """(A, x*) of a quadratic objective, A as a dense matrix; ValueError for anything else."""
    if objective.value is _diag_value:
        h, xstar = objective.data
        return np.diag(h), xstar
    if objective.value is _dense_value:
        A, xstar = objective.data
        return A, xstar
    raise ValueError(f"objective {objective.name!r} is not a quadratic")
