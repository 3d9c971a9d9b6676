"""The cycle lemma's pair weights, summed over the nesting by a recursion over the layers.

For steps j < l of one top-level cycle, d_jl = prod_{i < s(j,l)} alpha_i, where s(j, l) is the
lowest level whose current cycle holds both (THEORY.md). Write B_i = k_1 ... k_i (steps per
level-i cycle) and A_i = alpha_1 ... alpha_i. A level-i cycle is k_i level-(i-1) sub-cycles; a
step meets the B_i - B_{i-1} steps of the other sub-cycles at level i, with weight A_{i-1}. So the
weights of one step's partners (the j != l, either side) add up to the same E for every step:

    E_0 = 0,        E_i = E_{i-1} + A_{i-1} B_{i-1} (k_i - 1),

and D = sum_{j<l} d_jl = K E_n / 2 (every pair counted from both of its steps). N top-level cycles
in one epoch are one more level with k = N and alpha = 1 (a step sees an earlier cycle's step
through the slow weights, with weight P = A_n). Derivation: theory/recursions.md.
"""
from __future__ import annotations

import sympy as sp

from .formula import LayersLike, SymbolicLayers, exact

__all__ = ["ETA", "N_CYCLES", "layer_symbols", "as_layers", "cycle_length", "weight_product",
           "partner_weight_sum", "pair_weight_sum", "LayersLike", "SymbolicLayers"]

ETA = sp.Symbol("eta", positive=True)
N_CYCLES = sp.Symbol("N", positive=True, integer=True)


def layer_symbols(n: int) -> SymbolicLayers:
    """Symbolic layers [(k_1, alpha_1), ..., (k_n, alpha_n)], k_i positive integers, alpha_i > 0."""
    return [(sp.Symbol(f"k_{i}", positive=True, integer=True), sp.Symbol(f"alpha_{i}", positive=True))
            for i in range(1, n + 1)]


def as_layers(layers: LayersLike) -> SymbolicLayers:
    """Layers as exact sympy numbers or symbols (floats as the rationals of their decimal form);
    an int n gives ``layer_symbols(n)``."""
    if isinstance(layers, int):
        return layer_symbols(layers)
    return [(exact(k), exact(alpha)) for k, alpha in layers]


def cycle_length(layers: LayersLike) -> sp.Expr:
    """K = k_1 ... k_n."""
    return sp.Mul(*[k for k, _ in as_layers(layers)])


def weight_product(layers: LayersLike) -> sp.Expr:
    """P = alpha_1 ... alpha_n."""
    return sp.Mul(*[alpha for _, alpha in as_layers(layers)])


def partner_weight_sum(layers: LayersLike, cycles: int | sp.Expr = 1) -> sp.Expr:
    """E = sum_{j != l} d_jl for any one step l, over one top-level cycle or over ``cycles`` of them
    (an epoch): E_i = E_{i-1} + A_{i-1} B_{i-1} (k_i - 1), E_0 = 0."""
    layers = as_layers(layers)
    if cycles != 1:
        layers = layers + [(exact(cycles), sp.Integer(1))]
    partners, steps, weight = sp.Integer(0), sp.Integer(1), sp.Integer(1)
    for k, alpha in layers:
        partners, steps, weight = partners + weight * steps * (k - 1), steps * k, weight * alpha
    return partners


def pair_weight_sum(layers: LayersLike, cycles: int | sp.Expr = 1) -> sp.Expr:
    """D = sum_{j<l} d_jl = m E / 2 over one top-level cycle (m = K) or over ``cycles`` top-level
    cycles (an epoch, m = N K).

    ``layers`` may be numeric, symbolic, or an int n (then symbolic); ``cycles`` may be a symbol.
    """
    return cycle_length(layers) * exact(cycles) * partner_weight_sum(layers, cycles) / 2
