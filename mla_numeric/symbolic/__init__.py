"""Theory of n-layer nested Lookahead, derived from the algorithm's structure by recursions over
the n layers (theory/recursions.md): exact rationals for numeric layers, sympy expressions for
symbolic ones, in O(n) operations whatever K = k_1 ... k_n.

- ``structure``: K, P and the cycle lemma's pair-weight sums E (one step's partners) and D.
- ``modified_loss``: backward error analysis, lambda (full batch) and c_g, c_v (reshuffled).
- ``bound``: the explicit convergence bound of claim C2, its step condition and best eta.
- ``nqm``: the steady-state variance on the noisy quadratic model (claim C6), as a nested product,
  evaluated in floats without losing digits as eta h -> 0 or alpha_i -> 1.

Every result is a ``Formula``: a sympy expression with ``.latex()``, ``.evaluate(...)`` and ``.numpy(...)``.
"""
from .bound import convergence_bound, max_lr, optimal_lr, step_condition
from .formula import Formula
from .modified_loss import full_batch_coefficient, reshuffled_coefficients
from .nqm import contraction, steady_state_variance, variance_ratio
from .structure import ETA, N_CYCLES, cycle_length, layer_symbols, pair_weight_sum, partner_weight_sum, weight_product

__all__ = ["Formula", "ETA", "N_CYCLES", "layer_symbols", "cycle_length", "weight_product",
           "partner_weight_sum", "pair_weight_sum", "full_batch_coefficient", "reshuffled_coefficients",
           "convergence_bound", "step_condition", "max_lr", "optimal_lr", "contraction",
           "steady_state_variance", "variance_ratio"]
