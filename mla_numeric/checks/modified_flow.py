"""The numerical side of claims C3 and C4: modified flows, exact mean epochs, order and coefficients.

One cycle (full batch) or the mean of one reshuffled epoch should match, up to O(eta^3), the
gradient flow of the modified loss

    f~ = f + c_g ||grad f||^2 + c_v V,      V = (1/m) sum_a ||grad f_a - grad f||^2,

run for the flow time tau = eta P m (m = K for one full-batch cycle, c_g = lambda, no V term), and
the plain flow of f only up to O(eta^2). ``order_of_accuracy`` measures both errors over a range of
eta and fits their log-log slopes (about 3 and about 2 when the coefficients are right), and
measures the coefficients themselves.

Measured coefficients. The plain flow of f from x0 is x0 - tau g + (tau^2 / 2) H g + O(tau^3),
with g, H the gradient and Hessian at x0 (Taylor; exact from a gradient and a Hessian-vector
product, no ODE solver). The flow of f~ adds -tau grad(f~ - f) = -tau (2 c_g H g + c_v grad V) at
O(eta^2), since c_g, c_v are O(eta) (Barrett & Dherin 2021, Smith et al. 2021). So the residual

    r(eta) = [phi_end(eta) - (x0 - tau g + (tau^2 / 2) H g)] / eta^2
           = -P m (2 (c_g/eta) H g + (c_v/eta) grad V) + a_1 eta + a_2 eta^2 + ...

is a power series in eta whose constant term carries the coefficients: lambda/eta from the one
direction H g (full batch), c_g/eta and c_v/eta from the two directions H g and grad V (least
squares, a 2 x 2 system when d = 2). The constant term is found by Richardson extrapolation
(Richardson 1927): T_j, the value at eta = 0 of the polynomial through r at the j smallest etas,
removes the terms a_1 ... a_{j-1}; T_n, from all n etas, is the estimate.

Error model of the interval, per component of T_n, mapped to the coefficients by |A^+| (A: the
directions as columns, A^+ its pseudo-inverse):
- truncation: the larger of |T_n - T_{n-1}| and |T_{n-1} - T_{n-2}|, Richardson's estimates of the
  errors of T_{n-1} and T_{n-2}, which bound that of T_n when the series' terms shrink over the
  etas used (geometric convergence); the second guards against one accidentally small difference
  (far outside the asymptotic range, eta ||H|| m ~ 2.5, the first alone under-covers);
- rounding: the end point is a float64 computation of about (3 n + 2) m operations per coordinate
  (n layers), plus the mean over R replicates and the Taylor terms; each carries a relative error
  of at most u = 2^-53, amplified through the cycle by at most exp(eta ||H|| m). Divided by
  eta_i^2 and weighted by the |Richardson weights|;
- Monte Carlo (random orders only): the orders are common to every eta (replicate r draws the same
  order at every eta), so the per-order extrapolated coefficients are independent draws with mean
  the estimate; their standard error times the normal quantile of ``failure_probability``, split
  over the coefficients (Bonferroni).
The interval is the estimate +- the sum of the three. It is infinite when the directions are
parallel at x0 (the coefficients cannot be told apart there).
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.integrate import solve_ivp

from .._typing import FloatArray
from ..engine import simulate
from ..objectives.base import Objective
from ..oracles import GaussianNoise, PrescribedOrders, RandomReshuffling
from ..spec import MLA, check_positive
from . import stats

__all__ = ["variance_gradient", "flow_endpoint", "epoch_end_points", "epoch_mean", "richardson_weights",
           "order_of_accuracy", "OrderResult", "Coefficients", "local_curvature", "default_lrs",
           "EXACT_ORDERS_UP_TO", "FAILURE_PROBABILITY"]

EXACT_ORDERS_UP_TO = 8  # m! orders enumerated exactly up to m = 8 (40320 replicates)
FAILURE_PROBABILITY = 0.05  # of a Monte Carlo coefficient interval (all coefficients of one setting)
UNIT_ROUNDOFF = 2.0 ** -53


def variance_gradient(objective: Objective, x: ArrayLike) -> FloatArray:
    """grad V(x) = (2/m) sum_a H_a g_a - 2 H g, for V = (1/m) sum_a ||g_a - g||^2."""
    components = sum(objective.component_hessian_vector(x, a, objective.component_gradient(x, a))
                     for a in range(objective.m))
    return 2.0 * components / objective.m - 2.0 * objective.hessian_vector(x, objective.gradient(x))


def flow_endpoint(objective: Objective, x0: ArrayLike, time: float, c_grad: float = 0.0, c_var: float = 0.0
                  ) -> FloatArray:
    """phi(time) for d phi/dt = -grad f~(phi), with f~ = f + c_grad ||grad f||^2 + c_var V.

    grad ||grad f||^2 = 2 H g; integrated with DOP853 at rtol 1e-12.
    """
    def velocity(t: float, x: FloatArray) -> FloatArray:
        g = objective.gradient(x)
        direction = g + 2.0 * c_grad * objective.hessian_vector(x, g)
        if c_var:
            direction += c_var * variance_gradient(objective, x)
        return -direction

    solution = solve_ivp(velocity, (0.0, time), np.asarray(x0, dtype=float), method="DOP853",
                         rtol=1e-12, atol=1e-14)
    if not solution.success:
        raise RuntimeError(f"the modified flow did not integrate: {solution.message}")
    endpoint: FloatArray = solution.y[:, -1]  # scipy is untyped (Any)
    return endpoint


def epoch_end_points(objective: Objective, optimizer: MLA, x0: ArrayLike, cycles: int | None = None,
                     samples: int | None = None, seed: int = 0) -> FloatArray:
    """Slow weights after one full-batch cycle (``cycles=None``) or one reshuffled epoch, per order.

    A reshuffled epoch of ``cycles`` top-level cycles takes m = cycles * K calls and needs an
    objective with exactly m components. Every one of the m! orders once when ``samples`` is None
    (m <= EXACT_ORDERS_UP_TO), else ``samples`` random orders; replicate r's order depends on
    (seed, r) only, not on the learning rate.

    Returns
    -------
    ndarray, shape (R, d)
        One end point per order (R = 1 for a full-batch cycle).
    """
    x0 = np.asarray(x0, dtype=float)
    if cycles is None:
        return simulate(objective, optimizer, 1, replicates=1, oracle=GaussianNoise(0.0), x0=x0).final
    cycles = check_positive("cycles", cycles, integer=True)
    m = cycles * optimizer.K
    if objective.m != m:
        raise ValueError(f"a reshuffled epoch of {cycles} cycles of K = {optimizer.K} needs m = {m} "
                         f"components; {objective.name!r} has m = {objective.m}")
    if samples is None:
        if m > EXACT_ORDERS_UP_TO:
            raise ValueError(f"m = {m} > {EXACT_ORDERS_UP_TO}: pass samples for a Monte Carlo mean")
        orders = np.array(list(itertools.permutations(range(m))), dtype=np.int64)
        return simulate(objective, optimizer, cycles, replicates=len(orders), x0=x0,
                        oracle=PrescribedOrders(orders=orders), keep="summary", chunk=4096).final
    return simulate(objective, optimizer, cycles, replicates=samples, x0=x0, seed=seed,
                    oracle=RandomReshuffling(), keep="summary", chunk=4096).final


def epoch_mean(objective: Objective, optimizer: MLA, x0: ArrayLike, cycles: int | None = None,
               samples: int | None = None, seed: int = 0) -> tuple[FloatArray, FloatArray]:
    """Mean slow weights after one full-batch cycle or one reshuffled epoch (``epoch_end_points``).

    Returns
    -------
    mean, stderr : ndarray
        The mean end point and its standard error per coordinate (zeros when exact).
    """
    ends = epoch_end_points(objective, optimizer, x0, cycles, samples, seed)
    if samples is None:
        return ends.mean(axis=0), np.zeros(ends.shape[1])
    return ends.mean(axis=0), ends.std(axis=0, ddof=1) / math.sqrt(len(ends))


def richardson_weights(nodes: ArrayLike) -> FloatArray:
    """w with sum_i w_i p(nodes_i) = p(0) for every polynomial p of degree < len(nodes).

    Lagrange interpolation evaluated at 0, w_i = prod_{j != i} nodes_j / (nodes_j - nodes_i). For
    r(eta) = a_0 + a_1 eta + ..., sum_i w_i r(eta_i) = a_0 + O(prod_i eta_i): Richardson
    extrapolation to eta -> 0 (Richardson 1927; the last entry of Neville's table).
    """
    nodes = np.asarray(nodes, dtype=float)
    return np.array([np.prod(np.delete(nodes, i) / (np.delete(nodes, i) - node)) for i, node in enumerate(nodes)])


def local_curvature(objective: Objective, x: ArrayLike, iterations: int = 100) -> float:
    """||Hess f(x)||, by power iteration on the Hessian-vector product."""
    v = np.random.default_rng(0).standard_normal(objective.dim)
    for _ in range(iterations):
        v = objective.hessian_vector(x, v)
        norm = np.linalg.norm(v)
        if norm == 0:
            return 0.0
        v /= norm
    return float(np.linalg.norm(objective.hessian_vector(x, v)))


def default_lrs(objective: Objective, x0: ArrayLike, low: float = 0.002, high: float = 0.016, count: int = 5
                ) -> FloatArray:
    """eta from low / c to high / c, c = ||Hess f(x0)||: small enough for the asymptotic regime."""
    return np.geomspace(low, high, count) / local_curvature(objective, x0)


@dataclass
class Coefficients:
    """The modified-loss coefficients over eta read off the eta^2 term of the error (module docstring).

    ``claimed``: the values the modified flow was run with; ``measured`` +- ``half_width`` the
    extrapolated estimate and its interval, ``half_width = truncation + rounding + monte_carlo``;
    ``at_lr[i]``: the coefficients read at ``lrs[i]`` without extrapolation (A^+ r(eta_i));
    ``orders[j - 1]``: the extrapolation T_j from the j smallest etas.
    """

    names: tuple[str, ...]
    claimed: FloatArray
    measured: FloatArray
    half_width: FloatArray
    truncation: FloatArray
    rounding: FloatArray
    monte_carlo: FloatArray
    at_lr: FloatArray
    orders: FloatArray


@dataclass
class OrderResult:
    """Errors of the (mean) end point against the modified and the plain flow, per eta, and the
    measured coefficients."""

    lrs: FloatArray
    error_modified: FloatArray
    error_plain: FloatArray
    monte_carlo_error: FloatArray
    slope_modified: float
    slope_plain: float
    coefficients: Coefficients


def order_of_accuracy(objective: Objective, layers: Sequence[tuple[int, float]], lrs: ArrayLike,
                      coefficients: Callable[[float], tuple[float, float]], x0: ArrayLike, cycles: int | None = None,
                      samples: int | None = None, seed: int = 0,
                      failure_probability: float = FAILURE_PROBABILITY) -> OrderResult:
    """Errors, log-log slopes and measured coefficients of one cycle (or one reshuffled epoch of ``cycles``).

    ``coefficients(eta)`` returns (c_g, c_v) of the modified loss at that eta, proportional to eta
    (c_v is ignored in full batch); ``coefficients(1)`` is the claim the measured c/eta is judged
    against. Errors are Euclidean norms of end point differences; with Monte Carlo epochs,
    ``monte_carlo_error`` is the norm of the standard errors, which should be far below both.
    The coefficients and their intervals: module docstring.
    """
    lrs = np.sort(np.asarray(lrs, dtype=float))
    x0 = np.asarray(x0, dtype=float)
    optimizer = MLA(layers)
    m, P = optimizer.K * (cycles or 1), optimizer.P
    g = objective.gradient(x0)
    Hg = objective.hessian_vector(x0, g)
    directions = [-2.0 * P * m * Hg]
    if cycles is not None:
        directions.append(-P * m * variance_gradient(objective, x0))
    names = ("lambda/eta",) if cycles is None else ("c_g/eta", "c_v/eta")
    claimed = np.array(coefficients(1.0), dtype=float)[:len(names)]
    A = np.column_stack(directions)
    inverse = np.linalg.pinv(A)
    identifiable = np.linalg.matrix_rank(A) == len(names)
    weights = np.zeros((len(lrs), len(lrs)))  # row j - 1: the weights of T_j (the j smallest etas)
    for j in range(1, len(lrs) + 1):
        weights[j - 1, :j] = richardson_weights(lrs[:j] / lrs[-1])
    curvature = local_curvature(objective, x0)

    modified, plain, noise, residuals, rounding = [], [], [], [], []
    per_order = 0.0  # per replicate: the Richardson combination of its residuals (Monte Carlo)
    for i, lr in enumerate(lrs):
        ends = epoch_end_points(objective, MLA(layers, lr), x0, cycles, samples, seed)
        end = ends.mean(axis=0)
        stderr = np.zeros_like(x0) if samples is None else ends.std(axis=0, ddof=1) / math.sqrt(len(ends))
        time = lr * P * m
        c_grad, c_var = coefficients(lr)
        target = flow_endpoint(objective, x0, time, c_grad, c_var if cycles else 0.0)
        modified.append(np.linalg.norm(end - target))
        plain.append(np.linalg.norm(end - flow_endpoint(objective, x0, time)))
        noise.append(np.linalg.norm(stderr))
        residual = (ends - (x0 - time * g + time ** 2 / 2 * Hg)) / lr ** 2
        residuals.append(residual.mean(axis=0))
        if samples is not None:
            per_order = per_order + weights[-1, i] * residual
        operations = (3 * optimizer.depth + 2) * m + math.ceil(math.log2(len(ends))) + 6
        largest = max(np.abs(x0).max(), np.abs(ends).max())
        rounding.append(operations * UNIT_ROUNDOFF * largest * math.exp(lr * curvature * m) / lr ** 2)

    extrapolated = weights @ np.array(residuals)
    last = np.abs(np.diff(extrapolated[-3:], axis=0))  # |T_n - T_{n-1}|, |T_{n-1} - T_{n-2}|
    truncation = last.max(axis=0) if len(lrs) > 1 else np.full(len(x0), np.inf)
    parts = [np.abs(inverse) @ truncation, np.abs(inverse) @ np.full(len(x0), np.abs(weights[-1]) @ rounding),
             np.zeros(len(names))]
    if samples is not None:
        quantile = stats.normal_quantile(stats.bonferroni(failure_probability, len(names)))
        parts[2] = quantile * (per_order @ inverse.T).std(axis=0, ddof=1) / math.sqrt(samples)
    half_width = sum(parts) if identifiable else np.full(len(names), np.inf)
    measured = Coefficients(names, claimed, inverse @ extrapolated[-1], half_width, parts[0], parts[1], parts[2],
                            at_lr=np.array(residuals) @ inverse.T, orders=extrapolated @ inverse.T)
    error_modified, error_plain = np.array(modified), np.array(plain)
    return OrderResult(lrs, error_modified, error_plain, np.array(noise), stats.loglog_slope(lrs, error_modified),
                       stats.loglog_slope(lrs, error_plain), measured)
