"""The valley: a two-parameter finite sum whose global minima form a hyperbola.

Components f_a(w) = (u x_a - y_a)^2 / 2 with u = w_1 w_2, f = (1/m) sum_a f_a. With the residual
r_a = u x_a - y_a and g = (w_2, w_1),

    grad f_a(w) = r_a x_a g,
    Hess f_a(w) = x_a^2 g g^T + r_a x_a [[0, 1], [1, 0]].

f depends on w only through u and is a 1-D least-squares problem in u, minimised by
u* = sum_a x_a y_a / sum_a x_a^2: every w on the hyperbola w_1 w_2 = u* is a global minimiser,
and on it grad f = 0 while the component gradients r_a x_a g do not vanish (the residuals r_a are
the noise). The minimum value is f* = (1/2m) (sum_a y_a^2 - (sum_a x_a y_a)^2 / sum_a x_a^2) >= 0,
so f_low = 0 is a valid (not attained when the noise is non-zero) lower bound.

f is not globally smooth: on the valley sum_a r_a x_a = 0, so Hess f = mean(x_a^2) g g^T whose
top eigenvalue mean(x_a^2) ||w||^2 is unbounded along the hyperbola: L = None.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .._numba import JIT
from .._typing import FloatArray
from ..spec import check_positive, check_real
from .base import Data, Objective

__all__ = ["valley", "valley_product"]

_L_REASON = ("not globally smooth: Hess f(w) = mean_a x_a^2 (w_2, w_1)(w_2, w_1)^T + "
             "mean_a r_a x_a [[0, 1], [1, 0]] grows like ||w||^2 mean_a x_a^2 along the valley")


@njit(**JIT)
def _valley_component_value(w: FloatArray, a: int, data: Data) -> float:
    inputs, targets = data
    r = w[0] * w[1] * inputs[a] - targets[a]
    return 0.5 * r * r


@njit(**JIT)
def _valley_value(w: FloatArray, data: Data) -> float:
    m = data[0].shape[0]
    total = 0.0
    for a in range(m):
        total += _valley_component_value(w, a, data)
    return total / m


@njit(**JIT)
def _valley_component_grad(w: FloatArray, a: int, data: Data, out: FloatArray) -> None:
    inputs, targets = data
    slope = (w[0] * w[1] * inputs[a] - targets[a]) * inputs[a]
    out[0] = slope * w[1]
    out[1] = slope * w[0]


@njit(**JIT)
def _valley_grad(w: FloatArray, data: Data, out: FloatArray) -> None:
    inputs, targets = data
    m = inputs.shape[0]
    slope = 0.0
    for a in range(m):
        slope += (w[0] * w[1] * inputs[a] - targets[a]) * inputs[a]
    slope /= m
    out[0] = slope * w[1]
    out[1] = slope * w[0]


@njit(**JIT)
def _valley_component_hvp(w: FloatArray, a: int, v: FloatArray, data: Data, out: FloatArray) -> None:
    """Hess f_a(w) v = x_a^2 (g^T v) g + r_a x_a (v_2, v_1)."""
    inputs, targets = data
    square = inputs[a] * inputs[a]
    cross = (w[0] * w[1] * inputs[a] - targets[a]) * inputs[a]
    along = square * (w[1] * v[0] + w[0] * v[1])
    out[0] = along * w[1] + cross * v[1]
    out[1] = along * w[0] + cross * v[0]


@njit(**JIT)
def _valley_hvp(w: FloatArray, v: FloatArray, data: Data, out: FloatArray) -> None:
    inputs, targets = data
    m = inputs.shape[0]
    mean_square = 0.0
    mean_cross = 0.0
    for a in range(m):
        mean_square += inputs[a] * inputs[a]
        mean_cross += (w[0] * w[1] * inputs[a] - targets[a]) * inputs[a]
    mean_square /= m
    mean_cross /= m
    along = mean_square * (w[1] * v[0] + w[0] * v[1])
    out[0] = along * w[1] + mean_cross * v[1]
    out[1] = along * w[0] + mean_cross * v[0]


def valley(dim: int = 2, seed: int = 0, *, m: int = 16, noise: float = 0.5,
           slope: float = 1.0) -> Objective:
    """f(w) = (1/m) sum_a (w_1 w_2 x_a - y_a)^2 / 2, with y_a = slope x_a + noise eps_a.

    x_a and eps_a are N(0, 1) from ``seed``. The start ``x0`` lies on the valley:
    w_1 = sqrt(|u*|), w_2 = sign(u*) sqrt(|u*|).

    Parameters
    ----------
    dim : int
        Must be 2.
    seed : int
        Data seed.
    m : int
        Number of components.
    noise : float
        Standard deviation of the target noise, >= 0.
    slope : float
        The noiseless product u that generates the targets.
    """
    dim = check_positive("dim", dim, integer=True)
    if dim != 2:
        raise ValueError(f"dim must be 2 for the valley (parameters w_1, w_2), got {dim}")
    m = check_positive("m", m, integer=True)
    noise = check_real("noise", noise, nonnegative=True)
    slope = check_real("slope", slope)
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal(m)
    targets = slope * inputs + noise * rng.standard_normal(m)
    product = _least_squares_product(inputs, targets)
    root = np.sqrt(abs(product))
    return Objective(
        name="valley", dim=2, data=(inputs, targets),
        value=_valley_value, grad=_valley_grad, hvp=_valley_hvp,
        L=None, L_reason=_L_REASON, f_low=0.0, m=m,
        component_value=_valley_component_value, component_grad=_valley_component_grad,
        component_hvp=_valley_component_hvp,
        params={"family": "valley", "seed": seed, "dim": 2, "m": m, "noise": noise, "slope": slope},
        x0=np.array([root, np.copysign(root, product)]))


def _least_squares_product(inputs: np.ndarray, targets: np.ndarray) -> float:
    return float(inputs @ targets / (inputs @ inputs))


def valley_product(objective: Objective) -> float:
    """u* = sum_a x_a y_a / sum_a x_a^2, the product w_1 w_2 on the valley of minima."""
    if objective.value is not _valley_value:
        raise ValueError(f"valley_product needs a valley objective, got {objective.name!r}")
    return _least_squares_product(*objective.data)
