"""Smooth non-convex objectives: robust regression, non-convex logistic regression, wells.

Robust regression, f(x) = (1/m) sum_a rho(r_a(x)), r_a = a_a^T x - y_a, rho(r) = log(1 + r^2)
(the Cauchy negative log-likelihood). rho'(r) = 2r / (1 + r^2) and

    rho''(r) = 2 (1 - r^2) / (1 + r^2)^2,

which with s = r^2 has derivative proportional to s - 3: its maximum is 2 (at r = 0), its
minimum -1/4 (at r^2 = 3), and it tends to 0 as |r| grows. Hess f = (1/m) sum_a rho''(r_a) a_a a_a^T,
so -(1/4m) A^T A <= Hess f <= (2/m) A^T A and ||Hess f|| <= L = 2 lambda_max(A^T A) / m.
rho >= 0, so f_low = 0 (attained only when every residual vanishes).

Non-convex logistic regression, f(x) = (1/m) sum_a l(y_a a_a^T x) + lam sum_i p(x_i) with
l(z) = log(1 + exp(-z)) and p(t) = t^2 / (1 + t^2). l''(z) = sigma(z) sigma(-z) is in (0, 1/4]
and y_a^2 = 1, so the data term's Hessian is between 0 and lambda_max(A^T A) / (4m). The penalty
has p'(t) = 2t / (1 + t^2)^2 and

    p''(t) = 2 (1 - 3t^2) / (1 + t^2)^3,

which with s = t^2 has derivative proportional to s - 1: its maximum is 2 (at t = 0), its
minimum -1/2 (at t^2 = 1), and it tends to 0. Hence ||Hess f|| <= L = lambda_max(A^T A)/(4m) + 2 lam.
Both terms are >= 0: f_low = 0 (never attained, since l > 0; not tight unless the data separate).

Minibatch variance. In both regressions grad f_a(x) = u_a + (a term common to all a), with
u_a = rho'(r_a) a_a, resp. l'(y_a a_a^T x) y_a a_a, and |rho'| <= 1, |l'| < 1. The common term
cancels in V(x) = (1/m) sum_a ||grad f_a - grad f||^2 = (1/m) sum_a ||u_a - mean u||^2, which is at
most (1/m) sum_a ||u_a||^2 <= (1/m) sum_a ||a_a||^2: the ``variance_bound`` sigma^2 of the
with-replacement oracle, for every x.

Wells, f(x) = sum_i [ t_i^2 / 2 + beta (1 - cos(omega t_i)) ], t_i = x_i - c_i. Per coordinate
f'' = 1 + beta omega^2 cos(omega t) is in [1 - beta omega^2, 1 + beta omega^2], so
L = 1 + beta omega^2. f is non-convex iff beta omega^2 > 1; its stationary points solve
t_i + beta omega sin(omega t_i) = 0 coordinatewise (all with |t_i| <= beta omega), several per
coordinate, so their product gives exponentially many local minima and saddles in d. Both terms
are >= 0 and vanish at x = c: f_low = 0, attained at the global minimiser c.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .._numba import JIT
from .._typing import FloatArray
from ..spec import check_positive, check_real
from .base import Data, Objective

__all__ = ["robust_regression", "logistic_nonconvex", "separable_wells"]


def _mean_squared_row_norm(rows: np.ndarray) -> float:
    """(1/m) sum_a ||a_a||^2: a bound on the minibatch variance V (module docstring)."""
    return float(np.mean(np.sum(rows ** 2, axis=1)))


def _top_eigenvalue_of_gram(rows: np.ndarray) -> float:
    """lambda_max(A^T A) for the m x d matrix ``rows`` = A."""
    return float(np.linalg.eigvalsh(rows.T @ rows)[-1])


@njit(**JIT)
def _row_dot(rows: FloatArray, a: int, x: FloatArray) -> float:
    total = 0.0
    for i in range(x.shape[0]):
        total += rows[a, i] * x[i]
    return total


# ---------------------------------------------------------------- robust regression

@njit(**JIT)
def _robust_component_value(x: FloatArray, a: int, data: Data) -> float:
    rows, targets = data
    r = _row_dot(rows, a, x) - targets[a]
    return np.log1p(r * r)


@njit(**JIT)
def _robust_value(x: FloatArray, data: Data) -> float:
    m = data[0].shape[0]
    total = 0.0
    for a in range(m):
        total += _robust_component_value(x, a, data)
    return total / m


@njit(**JIT)
def _robust_component_grad(x: FloatArray, a: int, data: Data, out: FloatArray) -> None:
    rows, targets = data
    r = _row_dot(rows, a, x) - targets[a]
    slope = 2.0 * r / (1.0 + r * r)
    for i in range(x.shape[0]):
        out[i] = slope * rows[a, i]


@njit(**JIT)
def _robust_grad(x: FloatArray, data: Data, out: FloatArray) -> None:
    rows, targets = data
    m = rows.shape[0]
    out[:] = 0.0
    for a in range(m):
        r = _row_dot(rows, a, x) - targets[a]
        slope = 2.0 * r / (1.0 + r * r) / m
        for i in range(x.shape[0]):
            out[i] += slope * rows[a, i]


@njit(**JIT)
def _robust_component_hvp(x: FloatArray, a: int, v: FloatArray, data: Data, out: FloatArray) -> None:
    """Hess f_a(x) v = rho''(r_a) (a_a^T v) a_a."""
    rows, targets = data
    r = _row_dot(rows, a, x) - targets[a]
    s = r * r
    weight = 2.0 * (1.0 - s) / ((1.0 + s) * (1.0 + s)) * _row_dot(rows, a, v)
    for i in range(x.shape[0]):
        out[i] = weight * rows[a, i]


@njit(**JIT)
def _robust_hvp(x: FloatArray, v: FloatArray, data: Data, out: FloatArray) -> None:
    rows, targets = data
    m = rows.shape[0]
    out[:] = 0.0
    for a in range(m):
        r = _row_dot(rows, a, x) - targets[a]
        s = r * r
        curvature = 2.0 * (1.0 - s) / ((1.0 + s) * (1.0 + s))
        weight = curvature * _row_dot(rows, a, v) / m
        for i in range(x.shape[0]):
            out[i] += weight * rows[a, i]


def robust_regression(dim: int = 10, seed: int = 0, *, m: int = 64, noise: float = 0.1) -> Objective:
    """f(x) = (1/m) sum_a log(1 + (a_a^T x - y_a)^2), a finite sum of m components.

    Parameters
    ----------
    dim, seed : int
        Size and data seed.
    m : int
        Number of samples (components).
    noise : float
        Scale of the Cauchy noise in y = A x_planted + noise * eps; rows a_a ~ N(0, I / dim),
        x_planted ~ N(0, I).
    """
    dim = check_positive("dim", dim, integer=True)
    m = check_positive("m", m, integer=True)
    noise = check_real("noise", noise, nonnegative=True)
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((m, dim)) / np.sqrt(dim)
    planted = rng.standard_normal(dim)
    targets = rows @ planted + noise * rng.standard_cauchy(m)
    return Objective(
        name="robust-regression", dim=dim, data=(rows, targets),
        value=_robust_value, grad=_robust_grad, hvp=_robust_hvp,
        L=2.0 * _top_eigenvalue_of_gram(rows) / m, f_low=0.0, m=m,
        component_value=_robust_component_value, component_grad=_robust_component_grad,
        component_hvp=_robust_component_hvp, variance_bound=_mean_squared_row_norm(rows),
        params={"family": "robust_regression", "seed": seed, "dim": dim, "m": m, "noise": noise})


# ---------------------------------------------------------------- non-convex logistic regression

@njit(**JIT)
def _softplus(z: float) -> float:
    """log(1 + exp(z)) without overflow."""
    return max(z, 0.0) + np.log1p(np.exp(-abs(z)))


@njit(**JIT)
def _sigmoid(z: float) -> float:
    """1 / (1 + exp(-z)) without overflow."""
    if z >= 0.0:
        return 1.0 / (1.0 + np.exp(-z))
    e = np.exp(z)
    return e / (1.0 + e)


@njit(**JIT)
def _penalty_value(x: FloatArray, lam: float) -> float:
    total = 0.0
    for i in range(x.shape[0]):
        t2 = x[i] * x[i]
        total += t2 / (1.0 + t2)
    return lam * total


@njit(**JIT)
def _add_penalty_grad(x: FloatArray, lam: float, out: FloatArray) -> None:
    for i in range(x.shape[0]):
        q = 1.0 + x[i] * x[i]
        out[i] += lam * 2.0 * x[i] / (q * q)


@njit(**JIT)
def _add_penalty_hvp(x: FloatArray, v: FloatArray, lam: float, out: FloatArray) -> None:
    for i in range(x.shape[0]):
        t2 = x[i] * x[i]
        q = 1.0 + t2
        out[i] += lam * 2.0 * (1.0 - 3.0 * t2) / (q * q * q) * v[i]


@njit(**JIT)
def _logistic_component_value(x: FloatArray, a: int, data: Data) -> float:
    rows, labels, lam = data
    margin = labels[a] * _row_dot(rows, a, x)
    return _softplus(-margin) + _penalty_value(x, lam[0])


@njit(**JIT)
def _logistic_value(x: FloatArray, data: Data) -> float:
    rows, labels, lam = data
    m = rows.shape[0]
    total = 0.0
    for a in range(m):
        total += _softplus(-labels[a] * _row_dot(rows, a, x))
    return total / m + _penalty_value(x, lam[0])


@njit(**JIT)
def _logistic_component_grad(x: FloatArray, a: int, data: Data, out: FloatArray) -> None:
    rows, labels, lam = data
    margin = labels[a] * _row_dot(rows, a, x)
    slope = -_sigmoid(-margin) * labels[a]
    for i in range(x.shape[0]):
        out[i] = slope * rows[a, i]
    _add_penalty_grad(x, lam[0], out)


@njit(**JIT)
def _logistic_grad(x: FloatArray, data: Data, out: FloatArray) -> None:
    rows, labels, lam = data
    m = rows.shape[0]
    out[:] = 0.0
    for a in range(m):
        margin = labels[a] * _row_dot(rows, a, x)
        slope = -_sigmoid(-margin) * labels[a] / m
        for i in range(x.shape[0]):
            out[i] += slope * rows[a, i]
    _add_penalty_grad(x, lam[0], out)


@njit(**JIT)
def _logistic_component_hvp(x: FloatArray, a: int, v: FloatArray, data: Data, out: FloatArray) -> None:
    """Hess f_a(x) v = l''(z_a) (a_a^T v) a_a + lam diag(p''(x_i)) v, z_a = y_a a_a^T x."""
    rows, labels, lam = data
    margin = labels[a] * _row_dot(rows, a, x)
    weight = _sigmoid(margin) * _sigmoid(-margin) * _row_dot(rows, a, v)
    for i in range(x.shape[0]):
        out[i] = weight * rows[a, i]
    _add_penalty_hvp(x, v, lam[0], out)


@njit(**JIT)
def _logistic_hvp(x: FloatArray, v: FloatArray, data: Data, out: FloatArray) -> None:
    rows, labels, lam = data
    m = rows.shape[0]
    out[:] = 0.0
    for a in range(m):
        margin = labels[a] * _row_dot(rows, a, x)
        weight = _sigmoid(margin) * _sigmoid(-margin) * _row_dot(rows, a, v) / m
        for i in range(x.shape[0]):
            out[i] += weight * rows[a, i]
    _add_penalty_hvp(x, v, lam[0], out)


def logistic_nonconvex(dim: int = 10, seed: int = 0, *, m: int = 64, lam: float = 0.1) -> Objective:
    """f(x) = (1/m) sum_a log(1 + exp(-y_a a_a^T x)) + lam sum_i x_i^2 / (1 + x_i^2).

    Component a is sample a's logistic loss plus the whole penalty, so the components average
    to f. Rows a_a ~ N(0, I / dim); labels y_a = +1 with probability sigma(a_a^T x_planted),
    else -1, with x_planted ~ N(0, I).

    Parameters
    ----------
    dim, seed : int
        Size and data seed.
    m : int
        Number of samples (components).
    lam : float
        Weight of the non-convex penalty, >= 0.
    """
    dim = check_positive("dim", dim, integer=True)
    m = check_positive("m", m, integer=True)
    lam = check_real("lam", lam, nonnegative=True)
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((m, dim)) / np.sqrt(dim)
    planted = rng.standard_normal(dim)
    positive = rng.random(m) < 1.0 / (1.0 + np.exp(-(rows @ planted)))
    labels = np.where(positive, 1.0, -1.0)
    return Objective(
        name="logistic-nonconvex", dim=dim, data=(rows, labels, np.array([lam])),
        value=_logistic_value, grad=_logistic_grad, hvp=_logistic_hvp,
        L=_top_eigenvalue_of_gram(rows) / (4.0 * m) + 2.0 * lam, f_low=0.0, m=m,
        component_value=_logistic_component_value, component_grad=_logistic_component_grad,
        component_hvp=_logistic_component_hvp, variance_bound=_mean_squared_row_norm(rows),
        params={"family": "logistic_nonconvex", "seed": seed, "dim": dim, "m": m, "lam": lam})


# ---------------------------------------------------------------- wells

@njit(**JIT)
def _wells_value(x: FloatArray, data: Data) -> float:
    centers, shape = data
    beta, omega = shape[0], shape[1]
    total = 0.0
    for i in range(x.shape[0]):
        t = x[i] - centers[i]
        total += 0.5 * t * t + beta * (1.0 - np.cos(omega * t))
    return total


@njit(**JIT)
def _wells_grad(x: FloatArray, data: Data, out: FloatArray) -> None:
    centers, shape = data
    beta, omega = shape[0], shape[1]
    for i in range(x.shape[0]):
        t = x[i] - centers[i]
        out[i] = t + beta * omega * np.sin(omega * t)


@njit(**JIT)
def _wells_hvp(x: FloatArray, v: FloatArray, data: Data, out: FloatArray) -> None:
    centers, shape = data
    beta, omega = shape[0], shape[1]
    for i in range(x.shape[0]):
        t = x[i] - centers[i]
        out[i] = (1.0 + beta * omega * omega * np.cos(omega * t)) * v[i]


def separable_wells(dim: int = 10, seed: int = 0, *, beta: float = 1.0, omega: float = 4.0) -> Objective:
    """f(x) = sum_i [ (x_i - c_i)^2 / 2 + beta (1 - cos(omega (x_i - c_i))) ], c ~ N(0, I).

    The defaults give beta omega^2 = 16 > 1 (non-convex) and, per coordinate, five local minima
    and four local maxima in |x_i - c_i| <= beta omega = 4: 5^d local minima, 9^d stationary points.

    Parameters
    ----------
    dim, seed : int
        Size and the seed of the centres c.
    beta, omega : float
        Depth and frequency of the wells, > 0.
    """
    dim = check_positive("dim", dim, integer=True)
    beta = check_positive("beta", beta)
    omega = check_positive("omega", omega)
    centers = np.random.default_rng(seed).standard_normal(dim)
    return Objective(
        name="wells", dim=dim, data=(centers, np.array([beta, omega])),
        value=_wells_value, grad=_wells_grad, hvp=_wells_hvp,
        L=1.0 + beta * omega * omega, f_low=0.0,
        params={"family": "separable_wells", "seed": seed, "dim": dim, "beta": beta, "omega": omega})
