"""NumPy baseline for the nested Lookahead (MLA) simulator, vectorised over replicates.

The same loop as ``benchmarks/c_loop.c`` and the numba engine, written as NumPy array code by
someone who wants it to be fast: the state is an array ``levels`` of shape ``(n + 1, R, d)``
(``levels[0]`` the fast weights phi_0, ``levels[i]`` the slow weights phi_i), the Python loop
runs over the ``T * K`` fast steps only, and each fast step is two in-place whole-array
operations on an ``(R, d)`` block.

Objective and oracle (diagonal quadratic with additive Gaussian noise)::

    f(x)    = 1/2 sum_i h_i (x_i - xstar_i)^2
    G(x)    = h * (x - xstar) + sigma * z / sqrt(d),    z ~ N(0, I)

The SGD step x - lr G(x) is affine in x and z, so it is evaluated as

    x <- a * x + (b - lr * s * z),    a = 1 - lr h,  b = lr h xstar,  s = sigma / sqrt(d),

with the bracket prepared for many steps at once (one draw of normals for a block of fast steps
and two whole-block operations). This equals the engine's ``x - lr (h (x - xstar) + s z)`` in
exact arithmetic; the rounding differs, which does not matter for a baseline whose stream differs
anyway.

Random numbers: one ``numpy.random.Generator(SFC64(seed))`` (NumPy's fastest bit generator,
with its ziggurat normals) fills the normals of a block of fast steps in one call. Replicates are
therefore independent, but they are rows of one shared stream rather than one stream each: a
replicate's draws depend on ``R``. That is the natural vectorised NumPy formulation; per-replicate
generators would need ``R`` Python calls per block. The streams differ from those of the C
baseline and of the engine, so runs agree in distribution, not draw by draw.

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

BLOCK_VALUES = 1 << 20  # normals drawn per generator call (8 MB), whole fast steps at a time


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
        Seed of the ``SFC64`` bit generator.
    x0 : array_like, shape (d,), optional
        Common start of all levels; zeros by default (as in ``c_loop.c``).

    Returns
    -------
    f : ndarray, shape (R, T)
        ``f(phi_n)`` after top-level iterations t = 1..T, per replicate.
    gradnorm2 : ndarray, shape (R, T)
        ``||grad f(phi_n)||^2 = ||h * (phi_n - xstar)||^2`` after top-level iterations t = 1..T.

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
    periods = np.cumprod([k for k, _ in layers]).tolist()  # k_1 ... k_i
    K = periods[-1] if n else 1
    alphas = [a for _, a in layers]
    a = 1.0 - lr * h                                  # x <- a x + (b - lr s z)
    b = lr * h * xstar
    noise = -lr * float(sigma) / math.sqrt(d)

    levels = np.empty((n + 1, R, d))
    levels[...] = 0.0 if x0 is None else np.asarray(x0, dtype=np.float64)
    x = levels[0]
    slow = levels[n]
    diff = np.empty((R, d))
    rng = np.random.Generator(np.random.SFC64(seed))
    steps_per_block = max(1, min(T * K, BLOCK_VALUES // (R * d)))
    shifts = np.empty((steps_per_block, R, d))      # b - lr s z for a block of fast steps
    f_rec = np.empty((R, T))
    g2_rec = np.empty((R, T))

    used = steps_per_block                           # the block is empty: draw on the first step
    for t in range(T):
        for j in range(1, K + 1):
            if used == steps_per_block:
                rng.standard_normal(out=shifts)
                shifts *= noise
                shifts += b
                used = 0
            x *= a
            x += shifts[used]
            used += 1
            top = 0
            for i in range(1, n + 1):
                if j % periods[i - 1]:
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
