"""Counter-based random streams keyed by (seed, replicate, counter).

Every number is a pure function of its key and its position, so kernels need no generator
state, threads share nothing, and a replicate's numbers do not depend on the thread count, on
how replicates are chunked, or on how a run is split into time blocks.

- ``stream_key(seed, replicate)`` hashes the pair into a 64-bit key.
- ``bits(key, n) = mix64(key + n * GAMMA)``: for a fixed key this is exactly SplitMix64
  (Steele, Lea & Flood, OOPSLA 2014) started from state ``key``, a generator that passes
  BigCrush; different keys start the same 2^64-periodic sequence at unrelated offsets.
- ``uniform(key, n)`` in (0, 1] (53 bits), ``uniform_index(key, n, m)`` in {0, .., m-1}.
- ``normal_pair(key, n)``: Box-Muller on the uniforms at 2n and 2n + 1.

All arithmetic is on uint64 and wraps modulo 2^64, as NumPy's uint64 does, so the slow twins in
``tests/naive.py`` reproduce the streams bit for bit.
"""
import math

import numpy as np
from numba import njit

from ._numba import JIT

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_SEED_SALT = np.uint64(0x5851F42D4C957F2D)
_TWO_M53 = 2.0 ** -53
TWO_PI = 2.0 * math.pi


@njit(**JIT)
def mix64(z):
    """SplitMix64's finaliser: a bijection of uint64 with full avalanche."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(**JIT)
def stream_key(seed, replicate):
    """The key of replicate ``replicate`` (>= 0) of a run with base ``seed`` (>= 0)."""
    return mix64(mix64(np.uint64(seed) ^ _SEED_SALT) + np.uint64(replicate) * GAMMA)


@njit(**JIT)
def bits(key, n):
    """The n-th 64-bit output of the stream ``key``."""
    return mix64(np.uint64(key) + np.uint64(n) * GAMMA)


@njit(**JIT)
def uniform(key, n):
    """The n-th uniform of the stream, in (0, 1] (so that log(u) is finite)."""
    return (float(bits(key, n) >> _S11) + 1.0) * _TWO_M53


@njit(**JIT)
def uniform_index(key, n, m):
    """A uniform index in {0, ..., m - 1} from the n-th output of the stream."""
    return int(float(bits(key, n) >> _S11) * _TWO_M53 * m)


@njit(**JIT)
def normal_pair(key, n):
    """Two independent N(0, 1) draws from uniforms 2n and 2n + 1 (Box-Muller)."""
    radius = math.sqrt(-2.0 * math.log(uniform(key, 2 * n)))
    angle = TWO_PI * uniform(key, 2 * n + 1)
    return radius * math.cos(angle), radius * math.sin(angle)


def stream_keys(seed: int, replicates) -> np.ndarray:
    """Keys for the given replicate indices of a run with base ``seed``."""
    return np.array([stream_key(seed, r) for r in replicates], dtype=np.uint64)
