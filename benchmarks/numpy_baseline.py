"""NumPy baseline for the nested Lookahead (MLA) simulator, vectorised over replicates.

The same loop as ``benchmarks/c_loop.c`` and the numba engine, written as plain NumPy array code:
the state is an array ``levels`` of shape ``(n + 1, R, d)`` (``levels[0]`` the fast weights
phi_0, ``levels[i]`` the slow weights phi_i), every fast step is a handful of in-place
whole-array operations on ``(R, d)`` blocks, and the Python loop runs over the ``T * K`` fast
steps only.

Objective and oracle (diagonal quadratic with additive Gaussian noise)::

    f(x)    = 1/2 sum_i h_i (x_i - xstar_i)^2
    G(x)    = h * (x - xstar) + sigma * z / sqrt(d),    z ~ N(0, I)

Random numbers: one ``numpy.random.default_rng(seed)`` fills a fresh ``(R, d)`` block of
standard normals per fast step (``standard_normal(out=...)``, NumPy's ziggurat). Replicates are
therefore independent, but they are rows of one shared stream rather than one stream each: a
replicate's draws depend on ``R``. That is the natural vectorised NumPy formulation; per-replicate
generators would need ``R`` Python calls per fast step. The streams differ from those of the C
baseline and of the engine, so runs agree in distribution, not draw by draw (with ``sigma = 0``
they agree to rounding).

NumPy's elementwise operations and its generator are single-threaded, so this baseline has no
thread-count parameter.

Functions
---------
run_numpy
    Simulate and return the records ``f`` and ``gradnorm2`` of shape ``(R, T)``.
time_numpy
    Wall-clock seconds of one ``run_numpy`` call.
"""
from __future__ import annotations

import math
import time

import numpy as np

__all__ = ["run_numpy", "time_numpy"]


def _check_layers(layers):
    checked = []
    for i, layer in enumerate(layers, start=1):
        k, alpha = layer
        if int(k) != k or k < 1 or not (0 < alpha <= 1):
            raise ValueError(f"layer {i} must be (k >= 1 integer, 0 < alpha <= 1), got {layer!r}")
        checked.append((int(k), float(alpha)))
    return checked


def run_numpy(h, xstar, layers, lr, sigma, T, R, seed=0, *, x0=None):
    """Simulate ``R`` replicates of nested Lookahead for ``T`` top-level iterations.

    Parameters
    ----------
    h : array_like, shape (d,)
        Curvatures of the diagonal quadratic, ``f(x) = 1/2 sum_i h_i (x_i - xstar_i)^2``.
    xstar : array_like, shape (d,)
        Minimiser.
    layers : sequence of (int, float)
        ``[(k_1, alpha_1), ..., (k_n, alpha_n)]``, innermost first; ``[]`` is plain SGD.
        One top-level iteration is ``K = k_1 * ... * k_n`` fast steps (oracle calls).
    lr : float
        Inner (fast-weight) learning rate eta.
    sigma : float
        Total noise level: ``G = grad f(x) + sigma * z / sqrt(d)``, so ``E||G - grad f||^2 = sigma^2``.
    T : int
        Number of top-level iterations.
    R : int
        Number of independent replicates.
    seed : int, optional
        Seed of ``numpy.random.default_rng``.
    x0 : array_like, shape (d,), optional
        Common start of all levels; zeros by default (as in ``c_loop.c``).

    Returns
    -------
    f : ndarray, shape (R, T)
        ``f(phi_n)`` after each top-level iteration, per replicate.
    gradnorm2 : ndarray, shape (R, T)
        ``||grad f(phi_n)||^2 = ||h * (phi_n - xstar)||^2`` after each top-level iteration.

    Notes
    -----
    After fast step ``j`` (1-based within the iteration) layer ``i`` fires when ``j`` is a
    multiple of ``k_1 * ... * k_i`` (and every layer below it fired):
    ``phi_i += alpha_i * (phi_{i-1} - phi_i)``; then every level below the highest layer that
    fired restarts from it.
    """
    h = np.asarray(h, dtype=np.float64)
    xstar = np.asarray(xstar, dtype=np.float64)
    if h.ndim != 1 or xstar.shape != h.shape:
        raise ValueError(f"h and xstar must be 1-d of equal length, got {h.shape} and {xstar.shape}")
    d = h.shape[0]
    layers = _check_layers(layers)
    n = len(layers)
    T, R = int(T), int(R)
    blocks = np.cumprod([k for k, _ in layers]).tolist()  # k_1 ... k_i
    K = blocks[-1] if n else 1
    alphas = [a for _, a in layers]
    scale = float(sigma) / math.sqrt(d)

    levels = np.empty((n + 1, R, d))
    levels[...] = 0.0 if x0 is None else np.asarray(x0, dtype=np.float64)
    x = levels[0]
    slow = levels[n]
    z = np.empty((R, d))
    g = np.empty((R, d))
    diff = np.empty((R, d))
    rng = np.random.default_rng(seed)
    f_rec = np.empty((R, T))
    g2_rec = np.empty((R, T))

    for t in range(T):
        for j in range(1, K + 1):
            # g = h * (x - xstar) + scale * z;  x -= lr * g
            rng.standard_normal(out=z)
            np.subtract(x, xstar, out=g)
            g *= h
            z *= scale
            g += z
            g *= lr
            x -= g
            top = 0
            for i in range(1, n + 1):
                if j % blocks[i - 1]:
                    break
                np.subtract(levels[i - 1], levels[i], out=diff)
                diff *= alphas[i - 1]
                levels[i] += diff
                top = i
            if top:
                levels[:top] = levels[top]
        np.subtract(slow, xstar, out=diff)
        diff *= h  # grad f(phi_n)
        np.einsum("rd,rd->r", diff, diff, out=g2_rec[:, t])
        np.einsum("rd,rd->r", diff, slow - xstar, out=f_rec[:, t])
    f_rec *= 0.5
    return f_rec, g2_rec


def time_numpy(h, xstar, layers, lr, sigma, T, R, seed=0, *, x0=None):
    """Wall-clock seconds (``time.perf_counter``) of one :func:`run_numpy` call.

    Parameters
    ----------
    h, xstar, layers, lr, sigma, T, R, seed, x0
        As for :func:`run_numpy`.

    Returns
    -------
    float
        Elapsed seconds, including allocation of the state and record arrays.
    """
    start = time.perf_counter()
    run_numpy(h, xstar, layers, lr, sigma, T, R, seed, x0=x0)
    return time.perf_counter() - start
