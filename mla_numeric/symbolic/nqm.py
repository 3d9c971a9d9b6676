"""Steady-state variance of nested Lookahead on the noisy quadratic model (claim C6).

Per coordinate the NQM is e <- beta e + eta xi, beta = 1 - eta h, xi ~ N(0, (h s)^2) (nqm.py).
A level-i cycle is linear, phi' = M_i phi + (noise), with

    M_0 = beta,                 M_i = 1 - alpha_i + alpha_i x_i,     x_i = M_{i-1}^{k_i},

because the k_i sub-cycles compose to M_{i-1}^{k_i} and the interpolation mixes it with the
identity. The noise of sub-cycle r passes through the k_i - r later ones and is scaled by alpha_i,
so the sums of squared noise weights obey S_0 = eta^2, S_i = alpha_i^2 S_{i-1} (1 - x_i^2) /
(1 - M_{i-1}^2), and the slow weights settle at V_i = S_i (h s)^2 / (1 - M_i^2). With
1 - M_i = alpha_i (1 - x_i) each layer multiplies the variance by Proposition 1's factor in M_{i-1}:

    V_n = V_SGD prod_i alpha_i (1 + x_i) / (1 + M_i),      V_SGD = eta^2 h^2 s^2 / (1 - beta^2),

a nested product that is built (sympy, unexpanded) or evaluated (floats) in O(n) operations.
Floats: M^k and 1 - M^2 lose every digit as eta h -> 0 or alpha -> 1 when computed as written, so
the evaluation carries M, 1 - M and 1 + M separately, starting from 1 - M_0 = eta h, with
|M|^k = exp(k log|M|), 1 - |M|^k = -expm1(k log|M|), log|M| = log1p(-(1 - |M|)) for |M| > 1/2
(1 - |M| = min(1 - M, 1 + M)), and
1 - M_i = alpha_i (1 - x_i), 1 + M_i = 2 (1 - alpha_i) + alpha_i (1 + x_i): sums of nonnegative
terms. Derivation: theory/recursions.md.

At eta h = 2 (beta = -1) V_SGD is infinite and the first factor with alpha_i < 1 is 0, yet V is
finite when an odd k_i (alpha_i < 1) restores the contraction: the product has a removable
singularity. So V is evaluated with the factors 1 / (1 + M_i) shifted by one layer,

    V_n = eta h s^2 prod_i alpha_i g_i / (1 + M_n),    g_i = (1 + x_i) / (1 + M_{i-1}),

where g_i = (1 - |M|^k)/(1 - |M|) = 1 + |M| + ... + |M|^(k-1) when M = M_{i-1} < 0 and k = k_i is
odd, taken at its limit k_i where M_{i-1} = -1 exactly (at beta = -1, and after layers with
alpha = 1 and odd k, which keep M = -1; with an even k_i there, x_i = 1 and nothing contracts).
V / V_SGD keeps the form above, with the factor 1 for alpha_i = 1 (so 0, not 0 / 0, at beta = -1).
Products and quotients are carried as mantissa and binary exponent (``np.frexp``), so no
intermediate under- or overflows: (eta h s)^2 = 1e-340 at eta h = 1e-170, s = 1, or s^2 = 1e400 at
s = 1e200, are out of the double range while V may not be. Unstable inputs give inf or nan with no
warning (errors ignored); ``summary.nqm_variance`` turns them into one message.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import sympy as sp
from numpy.typing import ArrayLike

from .._typing import FloatArray
from .formula import Formula, LayersLike, SymbolicLayers
from .structure import ETA, as_layers

__all__ = ["contraction", "steady_state_variance", "variance_ratio", "stability_margin", "steady_state",
           "SteadyState", "NQM_SYMBOLS"]

Values: TypeAlias = dict[str, ArrayLike]  # symbol name -> value (numbers or arrays, broadcast)
Start: TypeAlias = tuple[FloatArray, FloatArray, FloatArray]  # (M_0, 1 - M_0, 1 + M_0)
Scaled: TypeAlias = tuple[Any, Any]  # (mantissa, exponent): mantissa * 2**exponent, mantissa 0 or 0.5 <= |.| < 1

H, S, BETA = sp.symbols("h s beta", positive=True)
NQM_SYMBOLS = {"h": H, "s": S, "beta": BETA}


def _sum(*terms: sp.Expr) -> sp.Expr:
    """terms added without sympy's automatic evaluation, which on nested powers of sums queries
    assumptions at exponential cost (n = 8 layers ran out of memory); zeros dropped."""
    args = [arg for term in terms for arg in sp.Add.make_args(term) if arg != 0]
    return sp.Add(*args, evaluate=False) if len(args) > 1 else (args or [sp.Integer(0)])[0]


def _product_expr(*factors: sp.Expr) -> sp.Expr:
    """factors multiplied without automatic evaluation (see ``_sum``); ones dropped."""
    args = [arg for factor in factors for arg in sp.Mul.make_args(factor) if arg != 1]
    return sp.Mul(*args, evaluate=False) if len(args) > 1 else (args or [sp.Integer(1)])[0]


def _power(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    return base if exponent == 1 else sp.Pow(base, exponent, evaluate=False)


def _expressions(layers: SymbolicLayers, start: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(M_n, V_n / V_SGD) as nested, unexpanded sympy expressions from M_0 = ``start``."""
    M, P, fractions = start, sp.Integer(1), []
    for k, alpha in layers:
        x = _power(M, k)
        M = _sum(1 - alpha, _product_expr(alpha, x))
        if alpha != 1:  # alpha = 1: 1 + M_i = 1 + x_i, the factor is 1
            P = P * alpha
            fractions += [_sum(1, x), _power(_sum(2 - alpha, _product_expr(alpha, x)), -1)]
    return M, _product_expr(P, *fractions)


def _layer_values(layers: SymbolicLayers, values: Values) -> list[tuple[Any, Any, Any]]:
    """(k_i, alpha_i, 1 - alpha_i) as floats or arrays; symbols take their values by name."""
    def value(entry: sp.Expr) -> Any:
        return float(entry) if entry.is_number else Formula(entry).numpy(**values)
    return [(value(k), value(alpha), value(1 - alpha)) for k, alpha in layers]


def _scaled(value: ArrayLike) -> Scaled:
    mantissa, exponent = np.frexp(np.asarray(value, dtype=float))
    return mantissa, exponent.astype(np.int64)


def _times(a: Scaled, b: Scaled) -> Scaled:
    """a b, without under- or overflow (the mantissas' product lies in [1/4, 1))."""
    mantissa, exponent = np.frexp(a[0] * b[0])
    return mantissa, a[1] + b[1] + exponent


def _over(a: Scaled, b: Scaled) -> Scaled:
    """a / b, without under- or overflow (inf where b = 0 and a != 0)."""
    mantissa, exponent = np.frexp(a[0] / b[0])
    return mantissa, a[1] - b[1] + exponent


def _product(*values: ArrayLike) -> Scaled:
    result = _scaled(1.0)
    for value in values:
        result = _times(result, _scaled(value))
    return result


def unscaled(value: Scaled) -> Any:
    """The float (or array) mantissa * 2**exponent: 0 or subnormal below the double range, inf above."""
    with np.errstate(all="ignore"):
        return np.ldexp(value[0], value[1])


def _evaluate(layers: SymbolicLayers, values: Values, start: Start
              ) -> tuple[FloatArray, FloatArray, FloatArray, Scaled, Scaled]:
    """(M_n, 1 - M_n, 1 + M_n, V_n / V_SGD, prod_i alpha_i g_i) element-wise from ``start`` =
    (M_0, 1 - M_0, 1 + M_0), each given to full relative accuracy, which the recursion keeps; the
    last two as (mantissa, exponent) (module docstring)."""
    M, gap, cogap = start
    ratio = shifted = _scaled(1.0)
    with np.errstate(all="ignore"):
        for k, alpha, gamma in _layer_values(layers, values):
            distance = np.minimum(gap, cogap)                       # 1 - |M|
            log_power = k * np.where(distance < 0.5, np.log1p(-distance), np.log(np.abs(M)))  # k log|M|
            power, one_minus_power = np.exp(log_power), -np.expm1(log_power)
            negative = (M < 0) & (np.mod(k, 2) == 1)                # x = M^k < 0
            one_minus_x = np.where(negative, 1 + power, one_minus_power)
            one_plus_x = np.where(negative, one_minus_power, 1 + power)
            # g = (1 + x) / (1 + M_{i-1}); at M_{i-1} = -1 and k odd, 0 / 0 with the limit k
            g = np.where(negative & (cogap == 0), k, one_plus_x / cogap)
            M = gamma + alpha * np.where(negative, -power, power)
            gap, cogap = alpha * one_minus_x, 2 * gamma + alpha * one_plus_x
            shifted = _times(shifted, _product(alpha, g))
            factor = _over(_product(alpha, one_plus_x), _scaled(cogap))  # alpha (1 + x) / (1 + M_i)
            one = gamma == 0                                        # alpha = 1: M_i = x_i, the factor is 1
            ratio = _times(ratio, (np.where(one, 0.5, factor[0]), np.where(one, 1, factor[1])))
    return M, gap, cogap, ratio, shifted


def _in_beta(values: Values) -> Start:
    beta = np.asarray(values["beta"], dtype=float)
    return beta, 1 - beta, 1 + beta


def _in_step(values: Values) -> Start:
    """(M_0, 1 - M_0, 1 + M_0) from eta h, exact in 1 - M_0 however small eta h is."""
    eta_h = np.asarray(values["eta"], dtype=float) * np.asarray(values["h"], dtype=float)
    return 1 - eta_h, eta_h, 2 - eta_h


def contraction(layers: LayersLike) -> Formula:
    """M_n: the mean's contraction factor per top-level iteration, in beta = 1 - eta h."""
    layers = as_layers(layers)
    return Formula(_expressions(layers, BETA)[0], "mean contraction per iteration",
                   lambda **values: _evaluate(layers, values, _in_beta(values))[0])


def steady_state_variance(layers: LayersLike, in_beta: bool = False) -> Formula:
    """V = V_SGD prod_i alpha_i (1 + x_i) / (1 + M_i) in eta, h, s, k_i, alpha_i (or in beta, with
    ``in_beta``); the same as S_n (h s)^2 / (1 - M_n^2). Evaluated as
    (eta h s)^2 / (1 - M_0) prod_i alpha_i g_i / (1 + M_n), finite at eta h = 2 (module docstring);
    0 (or subnormal) below the double range, inf above it, with no warning."""
    layers = as_layers(layers)
    start = _in_beta if in_beta else _in_step

    def numeric(**values: Any) -> Any:
        with np.errstate(all="ignore"):
            M, gap, cogap = start(values)
            _, _, last, _, shifted = _evaluate(layers, values, (M, gap, cogap))
            eta, h, s = values["eta"], values["h"], values["s"]
            # in eta h, 1 - M_0 = eta h cancels exactly (also where the product eta h underflows)
            prefactor = _over(_product(eta, eta, h, h, s, s), _scaled(gap)) if in_beta else _product(eta, h, s, s)
            return unscaled(_over(_times(prefactor, shifted), _scaled(last)))

    beta = BETA if in_beta else 1 - ETA * H
    V = _product_expr((ETA * H * S) ** 2 / (1 - beta ** 2), _expressions(layers, beta)[1])
    return Formula(V, "steady-state variance of the slow weights", numeric)


def variance_ratio(layers: LayersLike) -> Formula:
    """V_MLA / V_SGD = prod_i alpha_i (1 + x_i) / (1 + M_i) in beta, k_i, alpha_i (eta and h s cancel)."""
    layers = as_layers(layers)
    return Formula(_expressions(layers, BETA)[1], "V / V_SGD",
                   lambda **values: unscaled(_evaluate(layers, values, _in_beta(values))[3]))


def stability_margin(layers: LayersLike, eta_h: ArrayLike) -> float:
    """1 - |M_n| at the given eta h, computed without rounding M_n to +-1 (eta h -> 0 keeps its
    digits): the NQM has a steady state exactly when it is positive."""
    with np.errstate(all="ignore"):
        _, gap, cogap, _, _ = _evaluate(as_layers(layers), {}, _in_step({"eta": eta_h, "h": 1.0}))
        return float(np.minimum(gap, cogap))


@dataclass(frozen=True)
class SteadyState:
    """One NQM coordinate at numeric eta, h, s: the floats M_n and 1 - |M_n|, and V, V_SGD and
    V / V_SGD as (mantissa, exponent) pairs, exact beyond the double range (``unscaled`` rounds them)."""

    contraction: float
    margin: float
    variance: Scaled
    variance_sgd: Scaled
    ratio: Scaled


def steady_state(layers: LayersLike, eta: float, h: float, s: float) -> SteadyState:
    """M_n, 1 - |M_n|, V, V_SGD = eta h s^2 / (2 - eta h) and V / V_SGD (a function of eta h alone,
    computed from eta h, not from the rounded beta, and not as a quotient of V and V_SGD) for numeric
    layers. Where the product eta h underflows, its limit eta h -> 0 (exact to a relative 1e-300)."""
    layers = as_layers(layers)
    with np.errstate(all="ignore"):
        M, gap, cogap = _in_step({"eta": eta, "h": h})
        M_n, gap_n, cogap_n, ratio, shifted = _evaluate(layers, {}, (M, gap, cogap))
        spread = _product(eta, h, s, s)
        return SteadyState(float(M_n), float(np.minimum(gap_n, cogap_n)),
                           _over(_times(spread, shifted), _scaled(cogap_n)), _over(spread, _scaled(cogap)),
                           ratio)
