"""Everything derived for one optimizer, as JSON-ready dictionaries (``mla-check derive``)."""
import sympy as sp

from .bound import convergence_bound, step_condition
from .modified_loss import full_batch_coefficient, reshuffled_coefficients
from .nqm import contraction, steady_state_variance, variance_ratio
from .structure import ETA, as_layers, cycle_length, pair_weight_sum, weight_product

__all__ = ["derivation", "nqm_variance"]


def _number(expr) -> dict:
    expr = sp.nsimplify(sp.simplify(expr))
    return {"expr": str(expr), "value": float(expr)}


def derivation(layers, cycles: int = 1) -> dict:
    """K, P, D, lambda/eta, c_g/eta, c_v/eta (for ``cycles`` cycles an epoch), the bound with its
    step condition, and V_MLA / V_SGD on the NQM, for numeric ``layers``."""
    exact = as_layers(layers)
    K = int(cycle_length(exact))
    if cycles * K > 1:
        c_grad, c_var = reshuffled_coefficients(exact, cycles)
        reshuffled = {"c_grad_over_eta": _number(c_grad.expr / ETA), "c_var_over_eta": _number(c_var.expr / ETA)}
    else:  # one batch an epoch: V = 0, c_g is lambda and c_v is undefined
        lam = _number(full_batch_coefficient(exact).expr / ETA)
        reshuffled = {"c_grad_over_eta": lam, "c_var_over_eta": {"expr": None, "value": None},
                      "note": "one batch an epoch (m = 1): V = 0, so c_v is undefined"}
    return {
        "layers": [[int(k), float(alpha)] for k, alpha in exact],
        "cycles_per_epoch": cycles,
        "K": K,
        "P": _number(weight_product(exact)),
        "pair_weight_sum": _number(pair_weight_sum(exact)),
        "epoch_pair_weight_sum": _number(pair_weight_sum(exact, cycles)),
        "full_batch": {"lambda_over_eta": _number(full_batch_coefficient(exact).expr / ETA)},
        "reshuffled": reshuffled,
        "bound": {"expr": str(convergence_bound(exact).expr), "step_condition": f"{step_condition(exact).expr} <= 1"},
        "nqm": {"variance_ratio_expr": str(sp.simplify(variance_ratio(exact).expr))},
    }


def nqm_variance(layers, lr: float, curvature: float, noise: float) -> dict:
    """Steady-state variance of the slow weights on one NQM coordinate, and of SGD, and the ratio."""
    values = dict(eta=lr, h=curvature, s=noise)
    for name, optimizer_layers in (("optimizer", layers), ("SGD", [])):
        M = contraction(optimizer_layers).evaluate(beta=1 - lr * curvature)
        if abs(M) >= 1:
            raise ValueError(f"no steady state: {name} with lr {lr:g} at curvature {curvature:g} does not "
                             f"contract (factor {M:.6g} per iteration); it needs |1 - lr h| < 1 and lr h > 0")
    variance = steady_state_variance(layers).evaluate(**values)
    variance_sgd = steady_state_variance([]).evaluate(**values)
    return {"variance": variance, "variance_sgd": variance_sgd, "ratio": variance / variance_sgd}
