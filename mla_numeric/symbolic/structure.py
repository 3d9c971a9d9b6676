"""The cycle lemma's pair weights, summed symbolically over the nesting.

For steps j < l of one top-level cycle, d_jl = prod_{i < s(j,l)} alpha_i, where s(j, l) is the
lowest level whose current cycle holds both (THEORY.md). Split a level-s cycle into its k_s
level-(s-1) sub-cycles a = 1..k_s: a pair inside one sub-cycle is counted one level down, and a
pair from sub-cycles a < b (B_{s-1}^2 of them, B_{s-1} = k_1 ... k_{s-1} steps each) has weight
A_{s-1} = alpha_1 ... alpha_{s-1}. So the sum W_s over one level-s cycle obeys

    W_s = k_s W_{s-1} + sum_{a=1}^{k_s} sum_{b=a+1}^{k_s} B_{s-1}^2 A_{s-1},    W_0 = 0,

and D = W_n. N top-level cycles in one epoch are one more level with k = N and alpha = 1: a step
sees an earlier cycle's step through the slow weights, with weight P = A_n.
"""
import sympy as sp

__all__ = ["layer_symbols", "as_layers", "pair_weight_sum", "cycle_length", "weight_product"]

ETA = sp.Symbol("eta", positive=True)
N_CYCLES = sp.Symbol("N", positive=True, integer=True)


def layer_symbols(n: int) -> list:
    """Symbolic layers [(k_1, alpha_1), ..., (k_n, alpha_n)], k_i positive integers, alpha_i > 0."""
    return [(sp.Symbol(f"k_{i}", positive=True, integer=True), sp.Symbol(f"alpha_{i}", positive=True))
            for i in range(1, n + 1)]


def as_layers(layers) -> list:
    """Layers as sympy numbers or symbols: an int n gives ``layer_symbols(n)``."""
    if isinstance(layers, int):
        return layer_symbols(layers)
    return [(sp.sympify(k), sp.nsimplify(alpha) if isinstance(alpha, float) else sp.sympify(alpha))
            for k, alpha in layers]


def cycle_length(layers) -> sp.Expr:
    """K = k_1 ... k_n."""
    return sp.Mul(*[k for k, _ in as_layers(layers)])


def weight_product(layers) -> sp.Expr:
    """P = alpha_1 ... alpha_n."""
    return sp.Mul(*[alpha for _, alpha in as_layers(layers)])


def pair_weight_sum(layers, cycles=1) -> sp.Expr:
    """D = sum_{j<l} d_jl over one top-level cycle, or over ``cycles`` top-level cycles (an epoch).

    ``layers`` may be numeric, symbolic, or an int n (then symbolic); ``cycles`` may be a symbol.
    """
    layers = as_layers(layers)
    if cycles != 1:
        layers = layers + [(sp.sympify(cycles), sp.Integer(1))]
    a, b = sp.symbols("a b", integer=True, positive=True)
    within, steps, weight = sp.Integer(0), sp.Integer(1), sp.Integer(1)
    for k, alpha in layers:
        across = sp.summation(sp.summation(steps ** 2 * weight, (b, a + 1, k)), (a, 1, k))
        within = k * within + across
        steps, weight = steps * k, weight * alpha
    return sp.factor(sp.simplify(within))
