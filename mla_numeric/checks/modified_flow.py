"""The numerical side of claims C3 and C4: modified flows, exact mean epochs, order of accuracy.

One cycle (full batch) or the mean of one reshuffled epoch should match, up to O(eta^3), the
gradient flow of the modified loss

    f~ = f + c_g ||grad f||^2 + c_v V,      V = (1/m) sum_a ||grad f_a - grad f||^2,

run for the flow time eta P m (m = K for one full-batch cycle), and the plain flow of f only up to
O(eta^2). ``order_of_accuracy`` measures both errors over a range of eta and fits their log-log
slopes: about 3 and about 2 when the coefficients are right (the verdict: checks/modified_loss.py).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from ..engine import simulate
from ..objectives.base import Objective
from ..oracles import GaussianNoise, PrescribedOrders, RandomReshuffling
from ..spec import MLA, check_positive

__all__ = ["variance_gradient", "flow_endpoint", "epoch_mean", "order_of_accuracy", "OrderResult", "local_curvature",
           "default_lrs", "EXACT_ORDERS_UP_TO"]

EXACT_ORDERS_UP_TO = 8  # m! orders enumerated exactly up to m = 8 (40320 replicates)


def variance_gradient(objective: Objective, x) -> np.ndarray:
    """grad V(x) = (2/m) sum_a H_a g_a - 2 H g, for V = (1/m) sum_a ||g_a - g||^2."""
    components = sum(objective.component_hessian_vector(x, a, objective.component_gradient(x, a))
                     for a in range(objective.m))
    return 2.0 * components / objective.m - 2.0 * objective.hessian_vector(x, objective.gradient(x))


def flow_endpoint(objective: Objective, x0, time: float, c_grad: float = 0.0, c_var: float = 0.0):
    """phi(time) for d phi/dt = -grad f~(phi), with f~ = f + c_grad ||grad f||^2 + c_var V.

    grad ||grad f||^2 = 2 H g; integrated with DOP853 at rtol 1e-12.
    """
    def velocity(t, x):
        g = objective.gradient(x)
        direction = g + 2.0 * c_grad * objective.hessian_vector(x, g)
        if c_var:
            direction += c_var * variance_gradient(objective, x)
        return -direction

    solution = solve_ivp(velocity, (0.0, time), np.asarray(x0, dtype=float), method="DOP853",
                         rtol=1e-12, atol=1e-14)
    if not solution.success:
        raise RuntimeError(f"the modified flow did not integrate: {solution.message}")
    return solution.y[:, -1]


def epoch_mean(objective: Objective, optimizer: MLA, x0, cycles: int | None = None,
               samples: int | None = None, seed: int = 0):
    """Mean slow weights after one full-batch cycle (``cycles=None``) or one reshuffled epoch.

    A reshuffled epoch of ``cycles`` top-level cycles takes m = cycles * K calls and needs an
    objective with exactly m components. The mean is exact over all m! orders when ``samples`` is
    None (m <= EXACT_ORDERS_UP_TO), else a Monte Carlo mean over ``samples`` random orders.

    Returns
    -------
    mean, stderr : ndarray
        The mean end point and its standard error per coordinate (zeros when exact).
    """
    x0 = np.asarray(x0, dtype=float)
    if cycles is None:
        result = simulate(objective, optimizer, 1, seeds=1, oracle=GaussianNoise(0.0), x0=x0)
        return result.final[0], np.zeros_like(x0)
    cycles = check_positive("cycles", cycles, integer=True)
    m = cycles * optimizer.K
    if objective.m != m:
        raise ValueError(f"a reshuffled epoch of {cycles} cycles of K = {optimizer.K} needs m = {m} "
                         f"components; {objective.name!r} has m = {objective.m}")
    if samples is None:
        if m > EXACT_ORDERS_UP_TO:
            raise ValueError(f"m = {m} > {EXACT_ORDERS_UP_TO}: pass samples for a Monte Carlo mean")
        orders = np.array(list(itertools.permutations(range(m))), dtype=np.int64)
        result = simulate(objective, optimizer, cycles, seeds=len(orders), x0=x0,
                          oracle=PrescribedOrders(orders=orders), keep="summary", chunk=4096)
        return result.final.mean(axis=0), np.zeros_like(x0)
    result = simulate(objective, optimizer, cycles, seeds=samples, x0=x0, seed=seed,
                      oracle=RandomReshuffling(), keep="summary", chunk=4096)
    return result.final.mean(axis=0), result.final.std(axis=0, ddof=1) / math.sqrt(samples)


def local_curvature(objective: Objective, x, iterations: int = 100) -> float:
    """||Hess f(x)||, by power iteration on the Hessian-vector product."""
    v = np.random.default_rng(0).standard_normal(objective.dim)
    for _ in range(iterations):
        v = objective.hessian_vector(x, v)
        norm = np.linalg.norm(v)
        if norm == 0:
            return 0.0
        v /= norm
    return float(np.linalg.norm(objective.hessian_vector(x, v)))


def default_lrs(objective: Objective, x0, low: float = 0.002, high: float = 0.016, count: int = 5):
    """eta from low / c to high / c, c = ||Hess f(x0)||: small enough for the asymptotic regime."""
    return np.geomspace(low, high, count) / local_curvature(objective, x0)


@dataclass
class OrderResult:
    """Errors of the (mean) end point against the modified and the plain flow, per eta."""

    lrs: np.ndarray
    error_modified: np.ndarray
    error_plain: np.ndarray
    monte_carlo_error: np.ndarray
    slope_modified: float
    slope_plain: float


def order_of_accuracy(objective: Objective, layers, lrs, coefficients, x0, cycles: int | None = None,
                      samples: int | None = None, seed: int = 0) -> OrderResult:
    """Fit log(error) against log(eta) for one cycle (or one reshuffled epoch of ``cycles``).

    ``coefficients(eta)`` returns (c_g, c_v) of the modified loss at that eta (c_v is ignored in
    full batch). Errors are Euclidean norms of end point differences; with Monte Carlo epochs,
    ``monte_carlo_error`` is the norm of the standard errors, which should be far below both.
    """
    lrs = np.asarray(lrs, dtype=float)
    modified, plain, noise = [], [], []
    for lr in lrs:
        optimizer = MLA(layers, lr)
        end, stderr = epoch_mean(objective, optimizer, x0, cycles, samples, seed)
        time = lr * optimizer.P * optimizer.K * (cycles or 1)
        c_grad, c_var = coefficients(lr)
        target = flow_endpoint(objective, x0, time, c_grad, c_var if cycles else 0.0)
        modified.append(np.linalg.norm(end - target))
        plain.append(np.linalg.norm(end - flow_endpoint(objective, x0, time)))
        noise.append(np.linalg.norm(stderr))
    modified, plain = np.array(modified), np.array(plain)
    return OrderResult(lrs, modified, plain, np.array(noise),
                       float(np.polyfit(np.log(lrs), np.log(modified), 1)[0]),
                       float(np.polyfit(np.log(lrs), np.log(plain), 1)[0]))
