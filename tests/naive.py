"""Slow, obviously-correct twins, written from THEORY.md and the stream's definition (rng.py).

Nothing here imports the package's kernels or its cycle: the random stream is SplitMix64 in
exact Python integers, the optimizer is the recursive definition S_i, and objectives are
evaluated through the pure-Python bodies (``py_func``) of their compiled functions.
"""
import math

import numpy as np

MASK = 2 ** 64 - 1
GAMMA = 0x9E3779B97F4A7C15
SEED_SALT = 0x5851F42D4C957F2D


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def stream_key(seed, replicate):
    return mix64((mix64(seed ^ SEED_SALT) + replicate * GAMMA) & MASK)


def bits(key, n):
    return mix64((key + n * GAMMA) & MASK)


def uniform(key, n):
    return ((bits(key, n) >> 11) + 1) * 2.0 ** -53


def uniform_index(key, n, m):
    return int((bits(key, n) >> 11) * 2.0 ** -53 * m)


def normal_pair(key, n):
    radius = math.sqrt(-2.0 * math.log(uniform(key, 2 * n)))
    angle = 2.0 * math.pi * uniform(key, 2 * n + 1)
    return radius * math.cos(angle), radius * math.sin(angle)


def epoch_order(key, epoch, m):
    """Fisher-Yates: swap i = m-1..1 takes its partner from stream position epoch * m + i."""
    order = list(range(m))
    for i in range(m - 1, 0, -1):
        j = uniform_index(key, epoch * m + i, i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def gradient(objective, x):
    out = np.empty(objective.dim)
    objective.grad.py_func(x, objective.data, out)
    return out


def stochastic_gradient(objective, oracle, key, call, x):
    """G(x, xi_call) for oracle name 'gaussian', 'replacement' or 'reshuffle'."""
    if oracle.name == "gaussian":
        scale = oracle.noise_scale(objective.dim)
        z = np.array([v for p in range((objective.dim + 1) // 2)
                      for v in normal_pair(key, call * ((objective.dim + 1) // 2) + p)])
        return gradient(objective, x) + scale * z[:objective.dim]
    m = objective.m
    if oracle.name == "replacement":
        a = uniform_index(key, call, m)
    else:
        a = epoch_order(key, call // m, m)[call % m]
    out = np.empty(objective.dim)
    objective.component_grad.py_func(x, a, objective.data, out)
    return out


def nested_iteration(phi, layers, step):
    """S_n(phi) by the recursive definition; ``step(x)`` is S_0."""
    def S(level, start):
        if level == 0:
            return step(start)
        k, alpha = layers[level - 1]
        x = start
        for _ in range(k):
            x = S(level - 1, x)
        return start + alpha * (x - start)
    return S(len(layers), phi)


def simulate(objective, layers, lr, T, x0, oracle, seed=0, replicate=0):
    """Records f(phi_t), ||grad f(phi_t)||^2 and phi_t, t = 0..T, of one replicate."""
    key = stream_key(seed, replicate)
    call = 0

    def step(x):
        nonlocal call
        g = stochastic_gradient(objective, oracle, key, call, x)
        call += 1
        return x - lr * g

    phi = np.array(x0, dtype=float)
    loss, grad_norm_sq, trajectory = [], [], []
    for t in range(T + 1):
        if t > 0:
            phi = nested_iteration(phi, layers, step)
        g = gradient(objective, phi)
        loss.append(objective.value.py_func(phi, objective.data))
        grad_norm_sq.append(g @ g)
        trajectory.append(phi)
    return np.array(loss), np.array(grad_norm_sq), np.array(trajectory)
