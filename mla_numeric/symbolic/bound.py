"""The explicit convergence bound of claim C2 for any nesting depth (proof: theory/convergence.md).

If 2 L eta P K + L^2 eta^2 K (K - 1) <= 1, then

    (1/T) sum_{t<T} E||grad f(phi_t)||^2 <= 2 Delta / (eta P K T) + 2 L eta P sigma^2
                                            + L^2 eta^2 (K - 1) sigma^2,     Delta = f(phi_0) - f_low.

It is an upper bound, not tight.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp

from .formula import Formula, LayersLike
from .structure import ETA, as_layers, cycle_length, weight_product

__all__ = ["convergence_bound", "step_condition", "max_lr", "optimal_lr", "BOUND_SYMBOLS"]

L, SIGMA, DELTA, T = sp.symbols("L sigma Delta T", positive=True)
BOUND_SYMBOLS = {"L": L, "sigma": SIGMA, "Delta": DELTA, "T": T}


def convergence_bound(layers: LayersLike) -> Formula:
    """The right-hand side of the bound, in eta, k_i, alpha_i, L, sigma, Delta, T."""
    layers = as_layers(layers)
    K, P = cycle_length(layers), weight_product(layers)
    expr = (2 * DELTA / (ETA * P * K * T) + 2 * L * ETA * P * SIGMA ** 2
            + L ** 2 * ETA ** 2 * (K - 1) * SIGMA ** 2)
    return Formula(expr, "bound on (1/T) sum_t E||grad f(phi_t)||^2")


def step_condition(layers: LayersLike) -> Formula:
    """The step-size condition, as the expression that must be <= 1."""
    layers = as_layers(layers)
    K, P = cycle_length(layers), weight_product(layers)
    return Formula(2 * L * ETA * P * K + L ** 2 * ETA ** 2 * K * (K - 1), "step condition (<= 1)")


def max_lr(K: int, P: float, L_value: float) -> float:
    """The largest eta with 2 L eta P K + L^2 eta^2 K (K - 1) <= 1 (root of the quadratic)."""
    a, b = L_value ** 2 * K * (K - 1), 2 * L_value * P * K
    return 1.0 / b if a == 0 else (-b + math.sqrt(b * b + 4 * a)) / (2 * a)


def optimal_lr(layers: LayersLike, L_value: float, sigma: float, delta: float, T_value: int) -> float:
    """The eta that minimises the bound for the given constants, within the step condition.

    The bound is convex in eta > 0; its stationarity condition is the cubic
    -2 Delta / (P K T) + 2 L P sigma^2 eta^2 + 2 L^2 (K - 1) sigma^2 eta^3 = 0.
    """
    layers = as_layers(layers)
    K, P = int(cycle_length(layers)), float(weight_product(layers))
    limit = max_lr(K, P, L_value)
    if sigma == 0:
        return limit
    roots = np.roots([2 * L_value ** 2 * (K - 1) * sigma ** 2, 2 * L_value * P * sigma ** 2, 0.0,
                      -2 * delta / (P * K * T_value)])
    positive = [r.real for r in roots if abs(r.imag) < 1e-12 * abs(r) and r.real > 0]
    return float(min(min(positive), limit))
