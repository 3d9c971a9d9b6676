"""Everything derived for one optimizer, as JSON-ready dictionaries (``mla-check derive``)."""
from __future__ import annotations

from typing import Any

import sympy as sp

from .._typing import JSON
from .bound import convergence_bound, step_condition
from .modified_loss import full_batch_coefficient, reshuffled_coefficients
from .nqm import contraction, stability_margin, steady_state_variance, variance_ratio
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


def nqm_variance(layers: LayersLike, lr: float, curvature: float, noise: float) -> JSON:
    """Steady-state variance of the slow weights on one NQM coordinate, and of SGD, and the ratio,
    evaluated directly at eta h = lr * curvature (accurate however small eta h or 1 - alpha_i).

    The optimizer has a steady state when its own contraction per iteration has |M_n| < 1 (a
    Lookahead can contract where SGD at the same lr does not); SGD's variance and the ratio are
    then None where SGD itself has none (|1 - lr h| >= 1)."""
    values: dict[str, Any] = dict(eta=lr, h=curvature, s=noise)
    if not stability_margin(layers, lr * curvature) > 0:
        M = contraction(layers).evaluate(beta=1 - lr * curvature)
        raise ValueError(f"no steady state: with lr {lr:g} at curvature {curvature:g} the slow weights do not "
                         f"contract (M_n = {M:.6g} per iteration; a steady state needs |M_n| < 1)")
    variance = steady_state_variance(layers).evaluate(**values)
    if not stability_margin([], lr * curvature) > 0:
        return {"variance": variance, "variance_sgd": None, "ratio": None,
                "note": f"SGD at lr {lr:g} has no steady state (|1 - lr h| = {abs(1 - lr * curvature):.6g} >= 1)"}
    variance_sgd = steady_state_variance([]).evaluate(**values)
    return {"variance": variance, "variance_sgd": variance_sgd, "ratio": variance / variance_sgd}
