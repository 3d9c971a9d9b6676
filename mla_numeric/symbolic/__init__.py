"""Symbolic theory of n-layer nested Lookahead (sympy), derived from the algorithm's structure.

- ``structure``: K, P and the cycle lemma's pair-weight sum D, by summation over the nesting.
- ``modified_loss``: backward error analysis, lambda (full batch) and c_g, c_v (reshuffled).
- ``bound``: the explicit convergence bound of claim C2, its step condition and best eta.
- ``nqm``: the steady-state variance on the noisy quadratic model (claim C6).

Every result is a ``Formula``: a sympy expression with ``.latex()`` and ``.evaluate(...)``.
"""
from .bound import convergence_bound, max_lr, optimal_lr, step_condition
from .formula import Formula
from .modified_loss import full_batch_coefficient, reshuffled_coefficients
from .nqm import contraction, steady_state_variance, variance_ratio
from .structure import ETA, N_CYCLES, cycle_length, layer_symbols, pair_weight_sum, weight_product

__all__ = ["Formula", "ETA", "N_CYCLES", "layer_symbols", "cycle_length", "weight_product",
           "pair_weight_sum", "full_batch_coefficient", "reshuffled_coefficients",
           "convergence_bound", "step_condition", "max_lr", "optimal_lr", "contraction",
           "steady_state_variance", "variance_ratio"]
