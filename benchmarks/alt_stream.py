"""What a vectorisable random stream would buy the engine (a prototype; not used by the package).

    python benchmarks/alt_stream.py [--repeats 5] [--quick]

The engine's stream is part of its contract (reports are compared number for number across
versions), so its normals stay Marsaglia & Tsang's ziggurat on SplitMix64 counters (rng.py). The
ziggurat's fast path needs two table look-ups per draw (gathers when vectorised) and about 1.5 %
of draws take a data-dependent slow path. This script measures the alternative the C baseline
uses, Box-Muller, on the same counter-based hash, so that the comparison isolates the choice of
transform:

    pair p of stream ``key``: words w = mix64(key + (2p) GAMMA), v = mix64(key + (2p + 1) GAMMA),
    u = ((w >> 11) + 1) 2^-53 in (0, 1],   theta = q pi/2 + (s - 1/2) pi/2 with q = v >> 62 and
    s = ((v >> 9) mod 2^53) 2^-53,   normals 2p and 2p + 1 = sqrt(-2 log u) (cos theta, sin theta).

log, sin and cos are fdlibm's polynomials written branch-free without bit casts (exponent by a
leading-zero count of the integer u 2^53), so LLVM vectorises the whole loop. Still a pure function
of (key, position): results would stay independent of threads and chunking.

It prints (1) that the prototype's normals are standard normal (moments, Kolmogorov-Smirnov) and
that the engine run on them gives the exact E||grad f||^2 within Monte Carlo error, (2) normals per
second of rng.normals and of the prototype, (3) the engine with the prototype's normals (the same
kernel code, recompiled with one global replaced) against the C loop, as bench_engine.py does, and
the engine without noise (GaussianNoise(0): no normals drawn), the ceiling that free normals would
give.

Result on the 2-core AMD EPYC (Zen 4) development machine: the prototype draws 0.93 times as many
normals per second as rng.normals (about 530 M against 570 M per CPU second) and the engine on it
is no faster. In numba the Box-Muller pair costs its division and square root (about 2.5 cycles a
normal for log and sqrt alone) where the ziggurat costs two gathers; neither comes near the C
loop, whose whole coordinate update (normal included) takes about 3.3 cycles because it runs 8
replicates in the lanes of one register. Changing the stream would not reach 0.8 of C. Without
noise (one thread, 2026-11-30) the engine runs at 0.82 of C at d = 10 and at 2.0 and 3.3 times C
at d = 100 and 1000: from d = 100 the normals are most of the time, and at d = 10 even free
normals leave the engine at 0.82, because its update runs one replicate at a time.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
import types
from contextlib import contextmanager

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros
from scipy import stats

import mla_numeric as mn
from mla_numeric import engine, rng
from mla_numeric._numba import JIT, PARALLEL
from mla_numeric.rng import GAMMA, mix64

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _baselines import build_c_loop, run_c_loop  # noqa: E402
from bench_engine import CONFIGS, LR, SIGMA, _load, _problem, _spec, time_averages_stat  # noqa: E402

_S9, _S11, _S62 = np.uint64(9), np.uint64(11), np.uint64(62)
_MASK53 = np.uint64((1 << 53) - 1)
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_SQRT2 = 1.4142135623730951
_HALF_PI = 1.5707963267948966


# error_model="numpy": a float division by zero gives inf instead of raising, so that the
# loop has no exit to check and vectorises.
_VECTOR = dict(JIT, error_model="numpy")


@njit(inline="always", **_VECTOR)
def _log_unit(w):
    """log(u) for u = ((w >> 11) + 1) 2^-53, branch-free (fdlibm e_log.c)."""
    v = (w >> _S11) + np.uint64(1)                         # 1 .. 2^53
    lz = leading_zeros(v)                                  # 11 .. 63
    m = np.float64((v << lz) >> _S11) * 2.0 ** -52         # [1, 2), exact
    k = np.float64(63 - np.int64(lz) - 53)                 # u = m 2^k
    big = m > _SQRT2
    m = m * 0.5 if big else m
    k = k + 1.0 if big else k
    f = m - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w2 = z * z
    t1 = w2 * (3.999999999940941908e-01 + w2 * (2.222219843214978396e-01 + w2 * 1.531383769920937332e-01))
    t2 = z * (6.666666666666735130e-01 + w2 * (2.857142874366239149e-01
                                               + w2 * (1.818357216161805012e-01 + w2 * 1.479819860511658591e-01)))
    return k * _LN2_HI - ((hfsq - (s * (hfsq + (t1 + t2)) + k * _LN2_LO)) - f)


@njit(**_VECTOR)
def box_muller_normals(key, start, out, flags):
    """out[i] <- normal number start + i of the prototype stream (``flags`` unused: same signature
    as ``rng.normals``, so that the engine's kernel can call either)."""
    count = out.shape[0]
    first = start >> 1
    pairs = ((start + count + 1) >> 1) - first
    buffer = np.empty(2 * pairs)
    base = np.uint64(key) + np.uint64(2 * first) * GAMMA
    for p in range(pairs):
        w = mix64(base + np.uint64(2 * p) * GAMMA)
        v = mix64(base + np.uint64(2 * p + 1) * GAMMA)
        radius = math.sqrt(-2.0 * _log_unit(w))
        q = np.int64(v >> _S62)
        r = (np.float64((v >> _S9) & _MASK53) * 2.0 ** -53 - 0.5) * _HALF_PI
        z = r * r
        sn = r + r * z * (-1.66666666666666324348e-01 + z * (8.33333333332248946124e-03 + z * (
            -1.98412698298579493134e-04 + z * (2.75573137070700676789e-06 + z * (
                -2.50507602534068634195e-08 + z * 1.58969099521155010221e-10)))))
        hz = 0.5 * z
        c1 = 1.0 - hz
        cs = c1 + (((1.0 - c1) - hz) + z * z * (4.16666666666666019037e-02 + z * (
            -1.38888888888741095749e-03 + z * (2.48015872894767294178e-05 + z * (
                -2.75573143513906633035e-07 + z * (2.08757232129817482790e-09
                                                   + z * -1.13596475577881948265e-11))))))
        odd = (q & 1) == 1
        c = sn if odd else cs
        s = cs if odd else sn
        c = -c if q == 1 or q == 2 else c
        s = -s if q >= 2 else s
        buffer[2 * p] = radius * c
        buffer[2 * p + 1] = radius * s
    offset = start - 2 * first
    for i in range(count):
        out[i] = buffer[offset + i]


def _kernel_with(normals_function):
    """The engine's kernel, compiled again with ``normals`` bound to ``normals_function``."""
    python = engine._advance.py_func
    scope = dict(python.__globals__, normals=normals_function)
    clone = types.FunctionType(python.__code__, scope, python.__name__, python.__defaults__, python.__closure__)
    return njit(**dict(PARALLEL, cache=False))(clone)


_ALT_KERNEL = None


@contextmanager
def prototype_stream():
    """Within the block, ``mla_numeric.simulate`` draws its normals from the prototype stream."""
    global _ALT_KERNEL
    _ALT_KERNEL = _ALT_KERNEL or _kernel_with(box_muller_normals)
    original = engine._advance
    engine._advance = _ALT_KERNEL
    try:
        yield
    finally:
        engine._advance = original


@njit(**JIT)
def _fill(function, key, total, batch):
    out = np.empty(batch)
    flags = np.empty(-(-batch // 8) * 8, dtype=np.uint8)
    check = 0.0
    for start in range(0, total - batch + 1, batch):
        function(key, start, out, flags)
        check += out[0]
    return check


def normals_per_second(function, total=1 << 25, batch=1020, repeats=5):
    key = np.uint64(rng.stream_key(0, 0))
    _fill(function, key, 4 * batch, batch)
    best = min(_timed(_fill, function, key, total, batch) for _ in range(repeats))
    return total / best


def _timed(function, *args):
    start = time.process_time()
    function(*args)
    return time.process_time() - start


def check_prototype():
    key = np.uint64(rng.stream_key(0, 0))
    n = 1 << 22
    z, flags = np.empty(n), np.empty(n, dtype=np.uint8)
    box_muller_normals(key, 1, z, flags)
    shifted = np.empty(n - 1)
    box_muller_normals(key, 2, shifted, flags)
    assert np.array_equal(z[1:], shifted), "a draw must not depend on where a batch starts"
    pvalue = stats.kstest(z, "norm").pvalue
    print(f"prototype normals: mean {z.mean():+.5f}, var - 1 {z.var() - 1:+.5f} (standard errors "
          f"{1 / math.sqrt(n):.5f}, {math.sqrt(2 / n):.5f}), Kolmogorov-Smirnov p = {pvalue:.3f}")
    d, R, layers, T = 10, 1024, [(5, 0.5), (5, 0.5)], 400
    objective, x0 = _problem(d)
    exact = mn.moments.quadratic_moments(objective, mn.MLA(layers, LR), T, mn.GaussianNoise(SIGMA),
                                         x0=x0).grad_norm_sq[1:].mean()
    with prototype_stream():
        result = mn.simulate(objective, mn.MLA(layers, LR), T, replicates=R, oracle=mn.GaussianNoise(SIGMA), x0=x0)
    mean, se = time_averages_stat(result.grad_norm_sq_records[:, 1:])
    print(f"engine on the prototype stream: S = {mean:.6g} +- {se:.2g}, exact {exact:.6g}, "
          f"z = {(mean - exact) / se:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="T / 10 for every configuration")
    args = parser.parse_args()
    build_c_loop()
    print(_load())
    check_prototype()
    import numba
    numba.set_num_threads(1)
    zig, bm = normals_per_second(rng.normals), normals_per_second(box_muller_normals)
    print(f"\nnormals per CPU second, one thread: ziggurat (rng.normals) {zig / 1e6:.0f} M, "
          f"Box-Muller prototype {bm / 1e6:.0f} M ({bm / zig:.2f} x)")
    print(f"\nEngine with each stream against the C loop (best of {args.repeats}, interleaved)")
    header = f"{'d':>5} {'R':>4} {'layers':>11} {'T':>5} {'thr':>3} | {'ziggurat':>9} {'Box-Mul.':>9} " \
             f"{'no noise':>9} {'C':>9} | {'zig/C':>6} {'BM/C':>6} {'free/C':>6}"
    print(header)
    print("-" * len(header))
    for d, R, layers, T in CONFIGS:
        T = T // 10 if args.quick else T
        K = mn.MLA(layers, LR).K
        objective, x0 = _problem(d)
        work = R * T * K * d

        def engine_seconds(threads, sigma=SIGMA, objective=objective, layers=layers, T=T, x0=x0, R=R):
            numba.set_num_threads(threads)
            start = time.perf_counter()
            mn.simulate(objective, mn.MLA(layers, LR), T, replicates=R, oracle=mn.GaussianNoise(sigma), x0=x0,
                        keep="summary", chunk=R, progress=False)
            return time.perf_counter() - start

        with prototype_stream():
            engine_seconds(1)
        for threads in (1, 2):
            zig_s, bm_s, free_s, c_s = [], [], [], []
            for _ in range(args.repeats):
                zig_s.append(engine_seconds(threads))
                with prototype_stream():
                    bm_s.append(engine_seconds(threads))
                free_s.append(engine_seconds(threads, sigma=0.0))
                c_s.append(run_c_loop(d, R, layers, LR, SIGMA, T, threads)["seconds"])
            zig_s, bm_s, free_s, c_s = min(zig_s), min(bm_s), min(free_s), min(c_s)
            print(f"{d:>5} {R:>4} {_spec(layers):>11} {T:>5} {threads:>3} | {work / zig_s / 1e6:>7.0f} M "
                  f"{work / bm_s / 1e6:>7.0f} M {work / free_s / 1e6:>7.0f} M {work / c_s / 1e6:>7.0f} M | "
                  f"{c_s / zig_s:>6.2f} {c_s / bm_s:>6.2f} {c_s / free_s:>6.2f}")
    print(_load())


if __name__ == "__main__":
    main()
