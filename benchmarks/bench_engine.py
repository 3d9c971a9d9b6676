"""Speed of the numba engine against a vectorised NumPy loop and a plain C loop (run by hand).

    python benchmarks/bench_engine.py [--repeats 3] [--quick]

Gaussian noise on a diagonal quadratic (``_baselines.c_loop_problem``), for the three
configurations of the foundation issue, at one and two threads. Prints oracle calls per second,
coordinate updates per second and the ratios engine / C (same thread count) and engine / NumPy,
then the engine's JIT compile time cold (fresh numba cache) and from the cache. Each timing is
the best of ``--repeats`` runs, so that a busy neighbour on a 2-core machine skews less.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numba

import mla_numeric as mn
from mla_numeric.objectives import diagonal_quadratic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _baselines import c_loop_problem, time_c_loop  # noqa: E402
from numpy_baseline import time_numpy  # noqa: E402

CONFIGS = [  # (d, R, layers, T)
    (10, 256, [(5, 0.5), (5, 0.5)], 2000),
    (1000, 16, [(5, 0.5), (5, 0.5)], 500),
    (100, 64, [(5, 0.5)], 5000),
]
LR, SIGMA = 0.05, 1.0

_COMPILE = """
import time
t = time.perf_counter()
import mla_numeric as mn
from mla_numeric.objectives import diagonal_quadratic
mn.simulate(diagonal_quadratic(4), mn.MLA([(5, 0.5), (5, 0.5)], 0.05), 1, seeds=2, oracle=mn.GaussianNoise(1.0))
print(time.perf_counter() - t)
"""


def time_engine(d, R, layers, T, threads):
    h, xstar, x0 = c_loop_problem(d)
    objective = diagonal_quadratic(d, h=h, xstar=xstar)
    optimizer = mn.MLA(layers, LR)
    numba.set_num_threads(threads)
    start = time.perf_counter()
    mn.simulate(objective, optimizer, T, seeds=R, oracle=mn.GaussianNoise(SIGMA), x0=x0,
                keep="summary", chunk=R, progress=False)
    return time.perf_counter() - start


def compile_seconds(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", _COMPILE], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="T / 10 for every configuration")
    args = parser.parse_args()
    time_engine(4, 2, [(5, 0.5), (5, 0.5)], 2, 1)  # compile outside the timings
    header = f"{'d':>5} {'R':>4} {'layers':>11} {'T':>5} {'thr':>3} | {'engine calls/s':>14} " \
             f"{'coord/s':>9} | {'C coord/s':>9} {'NumPy coord/s':>13} | {'vs C':>5} {'vs NumPy':>8}"
    print(header)
    print("-" * len(header))
    for d, R, layers, T in CONFIGS:
        T = T // 10 if args.quick else T
        K = mn.MLA(layers, LR).K
        h, xstar, x0 = c_loop_problem(d)
        work = R * T * K
        numpy_s = min(time_numpy(h, xstar, layers, LR, SIGMA, T, R, x0=x0) for _ in range(args.repeats))
        for threads in (1, 2):
            engine_s = min(time_engine(d, R, layers, T, threads) for _ in range(args.repeats))
            c_s = min(time_c_loop(d, R, layers, LR, SIGMA, T, threads) for _ in range(args.repeats))
            spec = ",".join(f"{k}:{a:g}" for k, a in layers)
            print(f"{d:>5} {R:>4} {spec:>11} {T:>5} {threads:>3} | {work / engine_s:>14.3g} "
                  f"{work * d / engine_s:>9.3g} | {work * d / c_s:>9.3g} {work * d / numpy_s:>13.3g} | "
                  f"{c_s / engine_s:>5.2f} {numpy_s / engine_s:>8.2f}")
    with tempfile.TemporaryDirectory() as cache:
        cold, cached = compile_seconds(cache), compile_seconds(cache)
    print(f"\nJIT compile (import + first simulate): cold {cold:.1f} s, from numba's cache {cached:.1f} s")


if __name__ == "__main__":
    main()
