"""Speed of the numba engine against a C loop written to be fast and a vectorised NumPy loop.

    python benchmarks/bench_engine.py [--repeats 5] [--quick] [--no-verify] [--no-compile]

Gaussian noise on a diagonal quadratic (``_baselines.c_loop_problem``), for three
configurations, at one and two threads. The C baseline (``c_loop.c``) runs replicates in AVX-512
lanes with xoshiro256+ streams and vectorised Box-Muller, OpenMP over groups of replicates; the
NumPy baseline (``numpy_baseline.py``) is single-threaded.

1. Same statistics. Before timing anything, each configuration is run once by the engine and by
   C with records kept, and the statistic S = mean over replicates of the time average
   (1/T) sum_{t=1..T} ||grad f(phi_t)||^2 is compared with its exact value (the quadratic's
   moment recurrences, ``mla_numeric.moments``) and between the two programs. Replicates are
   independent, so each S is a mean of R i.i.d. terms; the check passes when every
   |z| = |difference| / (standard error) <= 4. For correct simulators each of the nine z-scores
   exceeds 4 with probability about 6e-5 (CLT; a little more for R = 16, where the standard
   error is itself estimated from 16 terms: Student-t with 15 degrees of freedom gives 1e-3).
2. Speed. Engine and C runs are interleaved (engine, C, engine, C, ...) so that a neighbour's
   load hits both alike, and each timing is the best of ``--repeats``. Rates are coordinate
   updates per second, R * T * K * d / seconds, with seconds the wall time of ``simulate`` (the
   whole call, as a user sees it) and of C's simulation loop (``CLOCK_MONOTONIC``, no process
   start or I/O). The machine's load average is printed before and after; on a shared 2-core
   machine the two-thread numbers are the ones a busy neighbour spoils first. The single-thread
   rows also give the ratio of CPU-time rates (engine ``time.process_time``, C
   ``CLOCK_PROCESS_CPUTIME_ID``), which a neighbour's load disturbs much less.
3. JIT compile time of the engine: a fresh process with an empty numba cache (cold), then a second
   process with that cache (cached); import included.
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

import numba

import mla_numeric as mn
from mla_numeric.moments import quadratic_moments
from mla_numeric.objectives import diagonal_quadratic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _baselines import build_c_loop, c_loop_problem, run_c_loop  # noqa: E402
from numpy_baseline import time_numpy  # noqa: E402

CONFIGS = [  # (d, R, layers, T)
    (10, 256, [(5, 0.5), (5, 0.5)], 4000),
    (1000, 16, [(5, 0.5), (5, 0.5)], 500),
    (100, 64, [(5, 0.5)], 5000),
]
LR, SIGMA = 0.05, 1.0
Z_MAX = 4.0  # |z| above this fails the statistics check (probability ~6e-5 each when correct)

_COMPILE = """
import time
t, c = time.perf_counter(), time.process_time()
import mla_numeric as mn
from mla_numeric.objectives import diagonal_quadratic
mn.simulate(diagonal_quadratic(4), mn.MLA([(5, 0.5), (5, 0.5)], 0.05), 1, replicates=2,
            oracle=mn.GaussianNoise(1.0))
print(time.perf_counter() - t, time.process_time() - c)
"""


def _problem(d):
    h, xstar, x0 = c_loop_problem(d)
    return diagonal_quadratic(d, h=h, xstar=xstar), x0


def run_engine(d, R, layers, T, threads, *, records=False):
    """(wall seconds, CPU seconds, result) of one ``simulate`` call on the C loop's problem."""
    objective, x0 = _problem(d)
    numba.set_num_threads(threads)
    wall, cpu = time.perf_counter(), time.process_time()
    result = mn.simulate(objective, mn.MLA(layers, LR), T, replicates=R, oracle=mn.GaussianNoise(SIGMA),
                         x0=x0, keep="records" if records else "summary", chunk=R, progress=False)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def time_averages_stat(records):
    """(mean, standard error) over replicates of each replicate's time average of its records."""
    averages = records.mean(axis=1)
    return averages.mean(), averages.std(ddof=1) / math.sqrt(len(averages))


def verify(configs, threads=2):
    """Check that engine and C compute the same statistic; print a table; return True if it passes."""
    print("Same statistics: S = mean over replicates of (1/T) sum_{t=1..T} ||grad f(phi_t)||^2, "
          f"pass if every |z| <= {Z_MAX:g}")
    header = f"{'d':>5} {'R':>4} {'layers':>11} {'T':>5} | {'exact':>10} | {'engine':>10} {'+-':>8} " \
             f"{'C':>10} {'+-':>8} | {'z eng':>6} {'z C':>6} {'z eng-C':>7}"
    print(header)
    print("-" * len(header))
    passed = True
    for d, R, layers, T in configs:
        objective, x0 = _problem(d)
        optimizer = mn.MLA(layers, LR)
        exact = quadratic_moments(objective, optimizer, T, mn.GaussianNoise(SIGMA), x0=x0).grad_norm_sq[1:].mean()
        _, _, result = run_engine(d, R, layers, T, threads, records=True)
        engine, engine_se = time_averages_stat(result.grad_norm_sq_records[:, 1:])
        c = run_c_loop(d, R, layers, LR, SIGMA, T, threads, records=True)
        c_mean, c_se = time_averages_stat(c["gradnorm2"])
        z = [(engine - exact) / engine_se, (c_mean - exact) / c_se,
             (engine - c_mean) / math.hypot(engine_se, c_se)]
        passed &= all(abs(v) <= Z_MAX for v in z)
        print(f"{d:>5} {R:>4} {_spec(layers):>11} {T:>5} | {exact:>10.5g} | {engine:>10.5g} {engine_se:>8.2g} "
              f"{c_mean:>10.5g} {c_se:>8.2g} | {z[0]:>6.2f} {z[1]:>6.2f} {z[2]:>7.2f}")
    print("statistics check:", "PASSED" if passed else "FAILED")
    return passed


def _spec(layers):
    return ",".join(f"{k}:{a:g}" for k, a in layers) or "sgd"


def compile_seconds(cache_dir):
    """(wall, CPU) seconds of import + first simulate in a fresh process using ``cache_dir``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", _COMPILE], env=env, capture_output=True, text=True,
                         check=True, cwd=tempfile.gettempdir())
    wall, cpu = (float(v) for v in out.stdout.split())
    return wall, cpu


def _load():
    return "load average {:.2f} {:.2f} {:.2f} (1, 5, 15 min) on {} CPUs".format(*os.getloadavg(), os.cpu_count())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timings per measurement (best is kept)")
    parser.add_argument("--quick", action="store_true", help="T / 10 for every configuration")
    parser.add_argument("--no-verify", action="store_true", help="skip the statistics check")
    parser.add_argument("--no-compile", action="store_true", help="skip the compile-time measurement")
    args = parser.parse_args()
    configs = [(d, R, layers, T // 10 if args.quick else T) for d, R, layers, T in CONFIGS]
    build_c_loop()
    run_engine(4, 2, [(5, 0.5), (5, 0.5)], 2, 1)  # compile outside the timings
    print(_load())
    if not args.no_verify and not verify(configs):
        sys.exit("the engine and the C loop disagree beyond Monte Carlo error; not timing them")

    print(f"\nSpeed: coordinate updates per second (best of {args.repeats}, engine and C interleaved)")
    header = f"{'d':>5} {'R':>4} {'layers':>11} {'T':>5} {'thr':>3} | {'engine':>9} {'C':>9} {'NumPy':>9} | " \
             f"{'eng/C':>6} {'eng/NumPy':>9} | {'eng/C CPU':>9}"
    print(header)
    print("-" * len(header))
    rows = []
    for d, R, layers, T in configs:
        K = mn.MLA(layers, LR).K
        h, xstar, x0 = c_loop_problem(d)
        work = R * T * K * d
        numpy_s = min(time_numpy(h, xstar, layers, LR, SIGMA, T, R, x0=x0) for _ in range(max(1, args.repeats // 2)))
        for threads in (1, 2):
            engine, c = [], []
            for _ in range(args.repeats):
                engine.append(run_engine(d, R, layers, T, threads)[:2])
                report = run_c_loop(d, R, layers, LR, SIGMA, T, threads)
                c.append((report["seconds"], report["cpu_seconds"]))
            engine_s, c_s = min(w for w, _ in engine), min(w for w, _ in c)
            cpu_ratio = min(w for _, w in c) / min(w for _, w in engine)
            rows.append((d, R, layers, T, threads, work / engine_s, work / c_s, work / numpy_s, cpu_ratio))
            print(f"{d:>5} {R:>4} {_spec(layers):>11} {T:>5} {threads:>3} | {work / engine_s / 1e6:>7.0f} M "
                  f"{work / c_s / 1e6:>7.0f} M {work / numpy_s / 1e6:>7.0f} M | {c_s / engine_s:>6.2f} "
                  f"{numpy_s / engine_s:>9.2f} | " + (f"{cpu_ratio:>9.2f}" if threads == 1 else f"{'':>9}"))
    print(_load())
    if not args.no_compile:
        with tempfile.TemporaryDirectory() as cache:
            cold, cached = compile_seconds(cache), compile_seconds(cache)
        print(f"\nJIT compile (import + first simulate): cold {cold[0]:.1f} s wall / {cold[1]:.1f} s CPU, "
              f"from numba's cache {cached[0]:.1f} s wall / {cached[1]:.1f} s CPU")
    return rows


if __name__ == "__main__":
    main()
