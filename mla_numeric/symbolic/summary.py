"""Everything derived for one optimizer, as JSON-ready dictionaries (``mla-check derive``)."""
from __future__ import annotations

import decimal
import math
import numbers
import sys
from typing import Any

import sympy as sp

from .._typing import JSON
from .bound import convergence_bound, step_condition
from .modified_loss import full_batch_coefficient, reshuffled_coefficients
from .nqm import Scaled, steady_state, unscaled, variance_ratio
from .structure import ETA, LayersLike, SymbolicLayers, as_layers, cycle_length, pair_weight_sum, weight_product

__all__ = ["derivation", "nqm_variance", "RATIO_BETA", "SHORT_EXPRESSION"]

RATIO_BETA = 0.9         # beta = 1 - eta h at which derive states V / V_SGD (eta h = 0.1)
SHORT_EXPRESSION = 200   # characters: a longer V / V_SGD expression is returned only when asked


def _number(expr: sp.Expr) -> JSON:
    return {"expr": str(expr), "value": float(expr)}


def _variance_ratio(layers: SymbolicLayers, expression: bool) -> JSON:
    """V / V_SGD on the NQM: its value at beta = RATIO_BETA, and its expression in beta when short
    or asked for."""
    ratio = variance_ratio(layers)
    text = sp.sstr(ratio.expr, order="none")  # as built, layer by layer; sorting terms costs 10x more
    result: JSON = {"variance_ratio_expr": text if expression or len(text) < SHORT_EXPRESSION else None,
              "variance_ratio_at": {"beta": RATIO_BETA, "value": ratio.evaluate(beta=RATIO_BETA)}}
    if result["variance_ratio_expr"] is None:
        result["note"] = (f"the expression in beta has {len(text)} characters; "
                          f"pass expression=True (mla-check derive --expression) to get it")
    return result


def derivation(layers: LayersLike, cycles: int = 1, expression: bool = False) -> JSON:
    """K, P, D, lambda/eta, c_g/eta, c_v/eta (for ``cycles`` cycles an epoch), the bound with its
    step condition, and V_MLA / V_SGD on the NQM (its expression in beta only when shorter than
    SHORT_EXPRESSION characters or with ``expression``), for numeric ``layers``: exact rationals
    from the recursions over the layers, in O(n) operations whatever K."""
    exact = as_layers(layers)
    K = int(cycle_length(exact))
    lam = _number(full_batch_coefficient(exact).expr / ETA)
    if cycles * K > 1:
        c_grad, c_var = reshuffled_coefficients(exact, cycles)
        reshuffled: dict[str, Any] = {"c_grad_over_eta": _number(c_grad.expr / ETA),
                                      "c_var_over_eta": _number(c_var.expr / ETA)}
    else:  # one batch an epoch: V = 0, c_g is lambda and c_v is undefined
        reshuffled = {"c_grad_over_eta": lam, "c_var_over_eta": {"expr": None, "value": None},
                      "note": "one batch an epoch (m = 1): V = 0, so c_v is undefined"}
    return {
        "layers": [[int(k), float(alpha)] for k, alpha in exact],
        "cycles_per_epoch": cycles,
        "K": K,
        "P": _number(weight_product(exact)),
        "pair_weight_sum": _number(pair_weight_sum(exact)),
        "epoch_pair_weight_sum": _number(pair_weight_sum(exact, cycles)),
        "full_batch": {"lambda_over_eta": lam},
        "reshuffled": reshuffled,
        "bound": {"expr": str(convergence_bound(exact).expr), "step_condition": f"{step_condition(exact).expr} <= 1"},
        "nqm": _variance_ratio(exact, expression),
    }


def _decimal(value: Scaled) -> str:
    """mantissa * 2**exponent in decimal, 4 digits, beyond the double range too."""
    mantissa, exponent = float(value[0]), int(value[1])
    with decimal.localcontext() as context:
        context.prec = 20
        return f"{decimal.Decimal(mantissa) * decimal.Decimal(2) ** exponent:.4g}"


def _representable(name: str, value: Scaled) -> tuple[float, str | None]:
    """(the nearest double, None), or (0 or a subnormal, what was lost) below the normal range;
    OverflowError above it (JSON has no inf)."""
    number = float(unscaled(value))
    if not math.isfinite(number):
        raise OverflowError(f"{name} = {_decimal(value)}")
    if abs(number) >= sys.float_info.min:
        return number, None
    given = "given as 0" if number == 0 else f"given as the subnormal {number!r}, with fewer than 16 digits"
    return number, f"{name} = {_decimal(value)} is below the double range: {given}"


def _check_input(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def nqm_variance(layers: LayersLike, lr: float, curvature: float, noise: float) -> JSON:
    """Steady-state variance of the slow weights on one NQM coordinate, and of SGD, and the ratio,
    evaluated directly at eta h = lr * curvature (accurate however small eta h or 1 - alpha_i, and
    at eta h = 2, where V_SGD is infinite but V need not be).

    The optimizer has a steady state when its own contraction per iteration has |M_n| < 1 (a
    Lookahead can contract where SGD at the same lr does not); SGD's variance and the ratio are
    then None where SGD itself has none (|1 - lr h| >= 1). The ratio depends on eta h alone and is
    computed on its own, not as V / V_SGD. Every value is None or a finite float (valid JSON): a
    variance or ratio below the normal double range is given as 0 (or subnormal) with a "note" that
    states its value; one above the range (V and V_SGD grow as s^2) is a ValueError that states them.
    Where the product lr * curvature underflows, the steady state is its limit eta h -> 0 (the
    prefactor eta h s^2 uses lr and curvature themselves)."""
    eta, h, s = (_check_input(name, value) for name, value in (("lr", lr), ("curvature", curvature), ("noise", noise)))
    exact = as_layers(layers)
    state = steady_state(exact, eta, h, s)
    eta_h = eta * h
    # Where 0 <= eta h < 2 (0: the product underflows) every M_i lies in (-1, 1) (alpha_i in (0, 1]),
    # though 1 - |M_n| may round to 0; beyond, a nesting may still contract where SGD does not.
    if not (eta_h < 2 or state.margin > 0):
        M = f"M_n = {state.contraction:.6g}" if math.isfinite(state.contraction) else "|M_n| beyond 1e308"
        raise ValueError(f"no steady state: with lr {lr:g} at curvature {curvature:g} the slow weights do not "
                         f"contract ({M} per iteration; a steady state needs |M_n| < 1)")
    sgd_stable = eta_h < 2
    names = [("variance", "V", state.variance)]
    if sgd_stable:
        names += [("variance_sgd", "V_SGD", state.variance_sgd), ("ratio", "V / V_SGD", state.ratio)]
    result: dict[str, Any] = {"variance": None, "variance_sgd": None, "ratio": None}
    notes = []
    try:
        for key, name, value in names:
            result[key], note = _representable(name, value)
            notes += [note] if note else []
    except OverflowError:
        stated = ", ".join(f"{name} = {_decimal(value)}" for _, name, value in names)
        raise ValueError(f"the steady state is beyond the double range (about 1.8e308): {stated} "
                         f"(V and V_SGD are proportional to noise^2)") from None
    if not sgd_stable:
        notes.append(f"SGD at lr {lr:g} has no steady state (|1 - lr h| = {abs(1 - eta_h):.6g} >= 1)")
    if notes:
        result["note"] = "; ".join(notes)
    return result
