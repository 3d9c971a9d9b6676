"""Backward error analysis of nested Lookahead: the modified losses of claims C3 and C4.

Full batch (C3). By the cycle lemma, x_j - phi = -eta sum_{i<j} d_ij grad f(x_i), so to O(eta^2)
grad f(x_j) = g - eta (sum_{i<j} d_ij) H g with g = grad f(phi), H = Hess f(phi), and one cycle is

    phi' - phi = -eta P K g + eta^2 P D H g + O(eta^3),       D = sum_{j<l} d_jl.

The gradient flow of f + lambda ||grad f||^2 for time tau = eta P K moves phi by
-tau (g + 2 lambda H g) + (tau^2 / 2) H g + O(tau^3). Matching the H g terms gives lambda.

Random reshuffling (C4). An epoch is m = N K calls, one per component f_a in a uniformly random
order pi, and N top-level cycles; D_e is the pair-weight sum over the epoch (structure.py). With
g_a, H_a the components' gradients and Hessians at phi, the mean over orders is

    E phi_end - phi = -eta P sum_a g_a + eta^2 P D_e E[H_pi(l) g_pi(j)]        (j < l),
    E[H_pi(l) g_pi(j)] = (sum_{a != b} H_b g_a) / (m (m - 1)) = (S_H S_g - S_Hg) / (m (m - 1)),

with S_g = sum_a g_a, S_H = sum_a H_a, S_Hg = sum_a H_a g_a. The flow of
f + c_g ||grad f||^2 + c_v V, V = (1/m) sum_a ||g_a - g||^2, for time tau = eta P m moves phi by
-tau (g + c_g grad||g||^2 + c_v grad V) + (tau^2 / 2) H g, where grad||g||^2 = 2 S_H S_g / m^2 and
grad V = 2 S_Hg / m - 2 S_H S_g / m^2. Matching the S_H S_g and S_Hg terms gives c_g and c_v.

sympy does each matching below (the products are kept as independent monomials), from the pair
sums that structure.py derives by summation over the nesting.
"""
import sympy as sp

from .formula import Formula
from .structure import ETA, N_CYCLES, as_layers, cycle_length, pair_weight_sum, weight_product

__all__ = ["full_batch_coefficient", "reshuffled_coefficients"]


def _first_order_agrees(difference) -> None:
    """The flow time eta P m is chosen so that the O(eta) terms match; anything else is a bug."""
    if sp.simplify(difference) != 0:
        raise ArithmeticError(f"first-order terms of map and flow differ by {difference}")


def full_batch_coefficient(layers) -> Formula:
    """lambda such that one cycle follows the flow of f + lambda ||grad f||^2 to O(eta^3)."""
    layers = as_layers(layers)
    K, P, D = cycle_length(layers), weight_product(layers), pair_weight_sum(layers)
    g, Hg, lam = sp.symbols("g Hg lambda")
    tau = ETA * P * K
    cycle = -ETA * P * K * g + ETA ** 2 * P * D * Hg
    flow = -tau * (g + 2 * lam * Hg) + tau ** 2 / 2 * Hg
    mismatch = sp.expand(cycle - flow)
    _first_order_agrees(mismatch.coeff(g))
    (solution,) = sp.solve(mismatch.coeff(Hg), lam)
    return Formula(sp.factor(sp.simplify(solution)), "lambda (full batch)")


def reshuffled_coefficients(layers, cycles=N_CYCLES) -> tuple:
    """(c_g, c_v): one reshuffled epoch of ``cycles`` top-level cycles follows, in the mean, the
    flow of f + c_g ||grad f||^2 + c_v V to O(eta^3)."""
    layers = as_layers(layers)
    K, P = cycle_length(layers), weight_product(layers)
    D = pair_weight_sum(layers, cycles)
    m = cycles * K
    S_g, S_HS_g, S_Hg, c_g, c_v = sp.symbols("S_g S_HS_g S_Hg c_g c_v")
    tau = ETA * P * m
    epoch = -ETA * P * S_g + ETA ** 2 * P * D * (S_HS_g - S_Hg) / (m * (m - 1))
    grad_f, H_grad_f = S_g / m, S_HS_g / m ** 2
    flow = (-tau * (grad_f + c_g * 2 * H_grad_f + c_v * (2 * S_Hg / m - 2 * H_grad_f))
            + tau ** 2 / 2 * H_grad_f)
    mismatch = sp.expand(epoch - flow)
    _first_order_agrees(mismatch.coeff(S_g))
    solution = sp.solve([mismatch.coeff(S_HS_g), mismatch.coeff(S_Hg)], [c_g, c_v], dict=True)[0]
    return (Formula(sp.factor(sp.simplify(solution[c_g])), "c_g (reshuffled)"),
            Formula(sp.factor(sp.simplify(solution[c_v])), "c_v (reshuffled)"))
