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


def ziggurat_tables(r=3.6541528853610088, v=4.92867323399e-3, layers=256):
    """Marsaglia & Tsang (2000), zigset: layer edges x_i of equal area v, 52-bit abscissae."""
    scale = 2.0 ** 52
    edges = [r]
    for _ in range(layers - 2):
        x = edges[-1]
        edges.append(math.sqrt(-2.0 * math.log(v / x + math.exp(-0.5 * x * x))))
    edges = edges[::-1]                      # x_1 < ... < x_255 = r
    q = v / math.exp(-0.5 * r * r)           # width of the base strip
    k = [int(r / q * scale), 0] + [int(edges[i - 2] / edges[i - 1] * scale) for i in range(2, layers)]
    w = [q / scale] + [x / scale for x in edges]
    f = [1.0] + [math.exp(-0.5 * x * x) for x in edges]
    return k, w, f


K_TABLE, W_TABLE, F_TABLE = ziggurat_tables()
R_TAIL = 3.6541528853610088


def normal(key, n):
    """The ziggurat: word n of the stream gives the sign and a first try; when that try is not
    accepted at once, words n * 2^16 + s of a second stream give the rest."""
    slow_key = mix64(key ^ 0xD1B54A32D192ED03)
    slow = ((n << 16) + s for s in range(1 << 16))
    word = bits(key, n)
    sign = -1.0 if (word >> 8) & 1 else 1.0
    while True:
        layer, u = word & 0xFF, (word >> 9) & ((1 << 52) - 1)
        x = u * W_TABLE[layer]
        if u < K_TABLE[layer]:
            return sign * x
        if layer == 0:                       # tail beyond r: Marsaglia's exponential rejection
            while True:
                tail = -math.log(uniform(slow_key, next(slow))) / R_TAIL
                height = -math.log(uniform(slow_key, next(slow)))
                if 2 * height > tail * tail:
                    return sign * (R_TAIL + tail)
        low, high = F_TABLE[layer], F_TABLE[layer - 1]
        if low + (high - low) * uniform(slow_key, next(slow)) < math.exp(-0.5 * x * x):
            return sign * x
        word = bits(slow_key, next(slow))


def normals(key, start, count):
    """Draws start .. start + count - 1, one by one (the twin of rng.normals)."""
    return np.array([normal(key, start + i) for i in range(count)])


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
        d = objective.dim
        z = np.array([normal(key, call * d + q) for q in range(d)])
        return gradient(objective, x) + oracle.noise_scale(d) * z
    m = objective.m
    a = uniform_index(key, call, m) if oracle.name == "replacement" else epoch_order(key, call // m, m)[call % m]
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
