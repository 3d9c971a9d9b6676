"""Backward error analysis of nested Lookahead: the modified losses of claims C3 and C4.

Full batch (C3). By the cycle lemma, x_j - phi = -eta sum_{i<j} d_ij grad f(x_i), so to O(eta^2)
grad f(x_j) = g - eta (sum_{i<j} d_ij) H g with g = grad f(phi), H = Hess f(phi), and one cycle is

    phi' - phi = -eta P K g + eta^2 P D H g + O(eta^3),       D = sum_{j<l} d_jl = K E / 2.

The gradient flow of f + lambda ||grad f||^2 for time tau = eta P K moves phi by
-tau (g + 2 lambda H g) + (tau^2 / 2) H g + O(tau^3). Matching the H g terms gives

    lambda = eta (P K / 4 - D / (2 K)) = (eta / 4) (P K - E).

Random reshuffling (C4). An epoch is m = N K calls, one per component f_a in a uniformly random
order, and N top-level cycles; D_e = m E_e / 2 is the pair-weight sum over the epoch (structure.py).
With g_a, H_a the components' gradients and Hessians at phi, the mean over orders is

    E phi_end - phi = -eta P sum_a g_a + eta^2 P D_e (S_H S_g - S_Hg) / (m (m - 1)),

S_g = sum_a g_a, S_H = sum_a H_a, S_Hg = sum_a H_a g_a. The flow of f + c_g ||grad f||^2 + c_v V,
V = (1/m) sum_a ||g_a - g||^2, for time tau = eta P m moves phi by -tau (g + c_g grad||g||^2 +
c_v grad V) + (tau^2 / 2) H g, with grad||g||^2 = 2 S_H S_g / m^2 and grad V = 2 S_Hg / m -
2 S_H S_g / m^2. Matching the S_Hg and then the S_H S_g terms gives

    c_v = eta D_e / (2 m (m - 1)) = (eta / 4) E_e / (m - 1),
    c_g = (eta / 4) (P m - E_e) = lambda        (E_e = E + P K (N - 1)).

Derivation in full: theory/recursions.md.
"""
from __future__ import annotations

import sympy as sp

from .formula import Formula, LayersLike, exact
from .structure import ETA, N_CYCLES, as_layers, cycle_length, partner_weight_sum, weight_product

__all__ = ["full_batch_coefficient", "reshuffled_coefficients"]


def full_batch_coefficient(layers: LayersLike) -> Formula:
    """lambda = (eta / 4) (P K - E): one cycle follows the flow of f + lambda ||grad f||^2 to O(eta^3)."""
    layers = as_layers(layers)
    K, P = cycle_length(layers), weight_product(layers)
    return Formula(ETA * (P * K - partner_weight_sum(layers)) / 4, "lambda (full batch)")


def reshuffled_coefficients(layers: LayersLike, cycles: int | sp.Expr = N_CYCLES) -> tuple[Formula, Formula]:
    """(c_g, c_v): one reshuffled epoch of ``cycles`` top-level cycles follows, in the mean, the
    flow of f + c_g ||grad f||^2 + c_v V to O(eta^3); c_g = lambda, c_v = (eta / 4) E_e / (m - 1)."""
    layers = as_layers(layers)
    m = exact(cycles) * cycle_length(layers)
    if m == 1:
        raise ValueError("one batch an epoch (m = N K = 1): V = 0, so c_v is undefined")
    c_grad = full_batch_coefficient(layers).expr
    c_var = ETA * partner_weight_sum(layers, cycles) / (4 * (m - 1))
    return Formula(c_grad, "c_g (reshuffled)"), Formula(c_var, "c_v (reshuffled)")
