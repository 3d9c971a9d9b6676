"""Counter-based random streams keyed by (seed, replicate, counter).

Every number is a pure function of its key and its position, so kernels need no generator
state, threads share nothing, and a replicate's numbers do not depend on the thread count, on
how replicates are chunked, or on how a run is split into time blocks.

- ``stream_key(seed, replicate)`` hashes the pair into a 64-bit key.
- ``bits(key, n) = mix64(key + n * GAMMA)``: for a fixed key this is exactly SplitMix64
  (Steele, Lea & Flood, OOPSLA 2014) started from state ``key``, a generator that passes
  BigCrush; different keys start the same 2^64-periodic sequence at unrelated offsets.
- ``uniform(key, n)`` in (0, 1] (53 bits), ``uniform_index(key, n, m)`` in {0, .., m-1}.
- ``normal(key, n)``: the n-th N(0, 1) draw, by Marsaglia & Tsang's ziggurat (J. Stat. Softw.
  5(8), 2000) with 256 layers. Its fast path (about 99 % of draws) reads the single word
  ``bits(key, n)``: 8 bits choose the layer, 1 the sign, 52 the abscissa. The rare wedge and tail
  draws read further words from a second stream, at positions n * 2^16 + s, s = 0, 1, ...,
  so every draw keeps its own place in the stream whatever its neighbours needed.
- ``normals(key, start, out, flags)``: draws start .. start + len(out) - 1 at once, the same
  numbers as ``normal``; the fast path of all of them runs in one vectorised loop (the kernels'
  way of drawing Gaussian noise).

All arithmetic is on uint64 and wraps modulo 2^64, as NumPy's uint64 does, so the slow twins in
``tests/naive.py`` reproduce the streams bit for bit.
"""
import math
from collections.abc import Iterable

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros  # llvm.cttz
from numpy.typing import NDArray

from ._numba import JIT
from ._typing import FloatArray, IntArray

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_SEED_SALT = np.uint64(0x5851F42D4C957F2D)
_TWO_M53 = 2.0 ** -53


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


def ziggurat_tables(layers: int = 256, r: float = 3.6541528853610088,
                    v: float = 4.92867323399e-3) -> tuple[IntArray, FloatArray, FloatArray]:
    """Marsaglia & Tsang's tables (their ``zigset``) for 52-bit abscissae.

    x_255 = r > x_254 > ... > x_1 are the right edges of layers of equal area v under
    exp(-x^2 / 2); layer 0 is the base strip plus the tail beyond r. Returns ``(k, w, f)``:
    a draw u of 52 bits in layer i is accepted at once when u < k[i] (x = u w[i] lies inside
    the layer below), and f[i] = exp(-x_i^2 / 2) bounds the wedge test.
    """
    scale = 2.0 ** 52
    k, w, f = np.zeros(layers, dtype=np.int64), np.zeros(layers), np.zeros(layers)
    edge = previous = r
    q = v / math.exp(-0.5 * r * r)
    k[0], k[1] = int(r / q * scale), 0
    w[0], w[-1] = q / scale, r / scale
    f[0], f[-1] = 1.0, math.exp(-0.5 * r * r)
    for i in range(layers - 2, 0, -1):
        edge = math.sqrt(-2.0 * math.log(v / edge + math.exp(-0.5 * edge * edge)))
        k[i + 1] = int(edge / previous * scale)
        previous = edge
        f[i] = math.exp(-0.5 * edge * edge)
        w[i] = edge / scale
    return k, w, f


ZIGGURAT_K, ZIGGURAT_W, ZIGGURAT_F = ziggurat_tables()
ZIGGURAT_R = 3.6541528853610088
_SLOW_SALT = np.uint64(0xD1B54A32D192ED03)
_S8, _S9, _S16 = np.uint64(8), np.uint64(9), np.uint64(16)
_BYTE, _BIT, _MASK52 = np.uint64(0xFF), np.uint64(1), np.uint64((1 << 52) - 1)


@njit(**JIT)
def normal(key, n):
    """The n-th N(0, 1) draw of the stream (ziggurat; see the module docstring)."""
    word = bits(key, n)
    layer = word & _BYTE
    sign = 1.0 - 2.0 * np.float64((word >> _S8) & _BIT)  # branch-free: the sign is a coin flip
    u = np.int64((word >> _S9) & _MASK52)
    x = u * ZIGGURAT_W[layer]
    if u < ZIGGURAT_K[layer]:
        return sign * x
    return sign * _normal_slow(mix64(np.uint64(key) ^ _SLOW_SALT), n, layer, x)


@njit(**JIT)
def normals(key, start, out, flags):
    """out[i] <- normal(key, start + i) for i < len(out): the same numbers, drawn in bulk.

    Two passes, so that the common case vectorises: the fast path of every draw (hash its word,
    look its layer up, accept at once) runs in one branch-free loop that marks in ``flags``
    (uint8 scratch, length >= len(out) and a multiple of 8) the draws it did not accept; then
    the marked draws (about 1.5 %), found eight flags at a time, are finished one by one by
    ``_normal_slow`` as ``normal`` finishes them.
    """
    count = out.shape[0]
    base = np.uint64(key) + np.uint64(start) * GAMMA
    rejected = 0
    for i in range(count):
        word = mix64(base + np.uint64(i) * GAMMA)
        layer = word & _BYTE
        u = np.int64((word >> _S9) & _MASK52)
        x = u * ZIGGURAT_W[layer]
        out[i] = -x if (word >> _S8) & _BIT else x  # = sign * x exactly, signed zeros included
        slow = u >= ZIGGURAT_K[layer]
        flags[i] = slow
        rejected += slow
    if rejected == 0:
        return
    # Index the marked draws first: a branch per draw would be mispredicted at every mark.
    flags[count:] = 0
    octets = flags.view(np.uint64)
    marked = np.empty(rejected, dtype=np.int64)
    found = 0
    for octet in range(octets.shape[0]):
        bits_set = octets[octet]  # byte b is 1 when draw 8 octet + b is marked
        while bits_set != 0:
            marked[found] = 8 * octet + (trailing_zeros(bits_set) >> 3)
            found += 1
            bits_set &= bits_set - np.uint64(1)
    slow_key = mix64(np.uint64(key) ^ _SLOW_SALT)
    for i in marked:
        word = mix64(base + np.uint64(i) * GAMMA)
        layer = word & _BYTE
        sign = 1.0 - 2.0 * np.float64((word >> _S8) & _BIT)
        u = np.int64((word >> _S9) & _MASK52)
        out[i] = sign * _normal_slow(slow_key, start + i, layer, u * ZIGGURAT_W[layer])


@njit(**JIT)
def _normal_slow(slow_key, n, layer, x):
    """|draw| in the ziggurat's wedge and tail cases, and its restarts, on the second stream
    (key ``slow_key = mix64(key ^ _SLOW_SALT)``)."""
    position = np.uint64(n) << _S16
    while True:
        if layer == 0:  # the tail beyond r (Marsaglia 1964)
            while True:
                tail = -math.log(uniform(slow_key, position)) / ZIGGURAT_R
                height = -math.log(uniform(slow_key, position + np.uint64(1)))
                position += np.uint64(2)
                if height + height > tail * tail:
                    return ZIGGURAT_R + tail
        low, high = ZIGGURAT_F[layer], ZIGGURAT_F[layer - 1]
        if low + (high - low) * uniform(slow_key, position) < math.exp(-0.5 * x * x):
            return x
        word = bits(slow_key, position + np.uint64(1))
        position += np.uint64(2)
        layer = word & _BYTE
        u = np.int64((word >> _S9) & _MASK52)
        x = u * ZIGGURAT_W[layer]
        if u < ZIGGURAT_K[layer]:
            return x


def stream_keys(seed: int, replicates: Iterable[int]) -> NDArray[np.uint64]:
    """Keys for the given replicate indices of a run with base ``seed``."""
    return np.array([stream_key(seed, r) for r in replicates], dtype=np.uint64)
