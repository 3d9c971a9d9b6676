"""Steady-state variance of nested Lookahead on the noisy quadratic model (claim C6).

Per coordinate the NQM is e <- beta e + eta xi, beta = 1 - eta h, xi ~ N(0, (h s)^2) (nqm.py).
A level-i cycle is linear: phi' = M_i phi + (noise), with

    M_0 = beta,                 M_i = 1 - alpha_i + alpha_i M_{i-1}^{k_i},

because the k_i sub-cycles compose to M_{i-1}^{k_i} and the interpolation mixes it with the
identity. The noise of sub-cycle r (r = 1..k_i) passes through the k_i - r later sub-cycles and is
scaled by alpha_i, so the sum of squared noise weights obeys

    S_0 = eta^2,                S_i = alpha_i^2 S_{i-1} sum_{r=0}^{k_i - 1} M_{i-1}^{2r},

(the sub-cycles' noises are independent). The slow weights' variance then solves
V = M_n^2 V + S_n (h s)^2, i.e. V = S_n (h s)^2 / (1 - M_n^2), finite when |M_n| < 1. sympy
does the geometric sums; n = 0 gives V_SGD = eta^2 h^2 s^2 / (1 - beta^2).
"""
import sympy as sp

from .formula import Formula
from .structure import ETA, as_layers

__all__ = ["contraction", "steady_state_variance", "variance_ratio", "NQM_SYMBOLS"]

H, S, BETA = sp.symbols("h s beta", positive=True)
NQM_SYMBOLS = {"h": H, "s": S, "beta": BETA}


def _recursion(layers):
    r = sp.Symbol("r", integer=True, nonnegative=True)
    M, weights = BETA, ETA ** 2
    for k, alpha in as_layers(layers):
        weights = alpha ** 2 * weights * _generic(sp.summation(M ** (2 * r), (r, 0, k - 1)))
        M = 1 - alpha + alpha * M ** k
    return M, weights


def _generic(expr):
    """The branch of a geometric sum for ratio != 1 (|M| < 1 whenever the variance is finite)."""
    if isinstance(expr, sp.Piecewise):
        return next(value for value, condition in expr.args if condition == sp.true)
    return expr


def contraction(layers) -> Formula:
    """M_n: the mean's contraction factor per top-level iteration, in beta = 1 - eta h."""
    return Formula(_recursion(layers)[0], "mean contraction per iteration")


def steady_state_variance(layers, in_beta: bool = False) -> Formula:
    """V = S_n (h s)^2 / (1 - M_n^2) in eta, h, s, k_i, alpha_i (or in beta, with ``in_beta``)."""
    M, weights = _recursion(layers)
    V = weights * (H * S) ** 2 / (1 - M ** 2)
    if not in_beta:
        V = V.subs(BETA, 1 - ETA * H)
    return Formula(V, "steady-state variance of the slow weights")


def variance_ratio(layers) -> Formula:
    """V_MLA / V_SGD as a function of beta, k_i, alpha_i (eta and h s cancel)."""
    ratio = steady_state_variance(layers, in_beta=True).expr / steady_state_variance([], in_beta=True).expr
    return Formula(sp.simplify(ratio), "V / V_SGD")
