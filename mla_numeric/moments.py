"""Exact first and second moments of MLA on a quadratic with Gaussian gradient noise.

For f(x) = 1/2 e^T A e with e = x - x*, each fast step is affine, e <- (I - eta A) e - eta xi_j,
so one top-level iteration is e' = M e + sum_j B_j xi_j with xi_j ~ N(0, Sigma) independent,
Sigma = diag(noise_scale^2). M and B_j are found by running the generic cycle (cycle.py) on the
matrix of the affine map. The mean mu = E e and covariance C = Cov e then evolve exactly by

    mu' = M mu,        C' = M C M^T + sum_j B_j Sigma B_j^T,

and   E f(phi) = 1/2 (mu^T A mu + tr(A C)),   E||grad f(phi)||^2 = mu^T A^2 mu + tr(A C A).

A diagonal A keeps every matrix diagonal; then the same recursion runs per coordinate in O(d K).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._typing import FloatArray
from .cycle import nested_cycle
from .objectives.base import Objective
from .objectives.quadratic import quadratic_parts
from .oracles import GAUSSIAN, GaussianNoise, Oracle
from .spec import MLA, check_finite_array, check_positive

__all__ = ["cycle_maps", "quadratic_moments", "QuadraticMoments"]


@dataclass
class QuadraticMoments:
    """Exact expectations at t = 0..T: mean (T+1, d), loss and grad_norm_sq (T+1,)."""

    mean: FloatArray
    loss: FloatArray
    grad_norm_sq: FloatArray


def cycle_maps(A: ArrayLike, optimizer: MLA) -> tuple[FloatArray, FloatArray]:
    """(M, B) with e' = M e + sum_j B[j] xi_j for one top-level iteration; B has shape (K, d, d).

    With a 1-D ``A`` (the diagonal of a diagonal matrix) both are returned as diagonals:
    M of shape (d,) and B of shape (K, d).
    """
    A = np.asarray(A, dtype=np.float64)
    d, K, lr = A.shape[0], optimizer.K, optimizer.lr
    diagonal = A.ndim == 1
    # Columns: block 0 acts on e, block 1 + j on xi_j (one column each when diagonal).
    width = 1 if diagonal else d
    start = np.zeros((d, width * (K + 1)))
    start[:, :width] = 1.0 if diagonal else np.eye(d)

    def step(W: FloatArray, j: int) -> FloatArray:
        drift = A[:, None] * W if diagonal else A @ W
        noise = np.zeros_like(W)
        noise[:, width * (1 + j):width * (2 + j)] = 1.0 if diagonal else np.eye(d)
        return W - lr * (drift + noise)

    W = nested_cycle(start, step, optimizer.layers)
    if diagonal:
        return W[:, 0], W[:, 1:].T.copy()
    return W[:, :d], np.stack([W[:, d * (1 + j):d * (2 + j)] for j in range(K)])


def quadratic_moments(objective: Objective, optimizer: MLA, T: int, oracle: Oracle | None = None,
                      x0: ArrayLike | None = None) -> QuadraticMoments:
    """Exact E f(phi_t), E||grad f(phi_t)||^2 and E phi_t, t = 0..T, for a quadratic objective.

    ``oracle`` must be Gaussian noise (default: none); ``x0`` defaults to ``objective.start()``.
    """
    A, xstar = quadratic_parts(objective)
    T = check_positive("T", T, integer=True)
    oracle = GaussianNoise(0.0) if oracle is None else oracle
    if oracle.kind != GAUSSIAN:
        raise ValueError(f"exact moments need the gaussian oracle, got {oracle.name!r}")
    d = objective.dim
    x0 = objective.start() if x0 is None else check_finite_array("x0", x0, (d,))
    variance = oracle.noise_scale(d) ** 2
    diagonal = np.count_nonzero(A - np.diag(np.diag(A))) == 0
    a = np.diag(A).copy() if diagonal else A
    M, B = cycle_maps(a, optimizer)

    injected = (B ** 2 * variance).sum(axis=0) if diagonal \
        else np.einsum("jab,b,jcb->ac", B, variance, B)
    mu0 = x0 - xstar
    if diagonal:  # closed form per coordinate: mu_t = M^t mu_0, C_t = injected (1 - M^2t) / (1 - M^2)
        t = np.arange(T + 1)[:, None]
        powers = M[None, :] ** t
        ratio = M ** 2
        geometric = np.where(np.isclose(ratio, 1.0, rtol=0, atol=1e-15), t * 1.0,
                             (1 - powers ** 2) / np.where(ratio == 1.0, 1.0, 1 - ratio))
        mu = powers * mu0
        second = mu ** 2 + injected * geometric
        return QuadraticMoments(mu + xstar, 0.5 * second @ a, second @ a ** 2)
    mu, C = mu0, np.zeros((d, d))
    means, losses, grads = [], [], []
    for _ in range(T + 1):
        means.append(mu + xstar)
        Amu = A @ mu
        losses.append(0.5 * (mu @ Amu + np.trace(A @ C)))
        grads.append(Amu @ Amu + np.trace(A @ C @ A))
        mu, C = M @ mu, M @ C @ M.T + injected
    return QuadraticMoments(np.array(means), np.array(losses), np.array(grads))
