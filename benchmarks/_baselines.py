"""Driver for the C baseline ``benchmarks/c_loop.c``, a loop written to be fast.

The C program simulates ``R`` replicates of nested Lookahead on a fixed diagonal quadratic
(see :func:`c_loop_problem`) in SIMD lanes across replicates (8 per AVX-512 register), with
its own xoshiro256+ stream per replicate, Box-Muller normals through branch-free log, sin and
cos that the compiler vectorises, and an OpenMP ``parallel for`` over groups of replicates. It
reports the seconds of the simulation loop alone (``CLOCK_MONOTONIC``, excluding process
start, allocation and output) and the CPU seconds of the loop (summed over threads).

It is compiled on first use with ``gcc -O3 -march=native -fno-math-errno -fopenmp ... -lm``
into ``benchmarks/bin/c_loop`` and recompiled whenever ``c_loop.c`` is newer than the binary.
The compiler can be overridden with the ``CC`` environment variable.

Functions
---------
time_c_loop
    Seconds of the simulation loop for one configuration and thread count.
run_c_loop
    The same run, also returning the checksum and (optionally) the records.
c_loop_problem
    ``(h, xstar, x0)`` of the problem the C program solves, for like-for-like comparisons.
build_c_loop
    Compile (if missing or stale) and return the path of the binary.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["time_c_loop", "run_c_loop", "c_loop_problem", "build_c_loop", "format_layers"]

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "c_loop.c"
BINARY = HERE / "bin" / "c_loop"
CFLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fopenmp"]
LIBS = ["-lm"]


def format_layers(layers) -> str:
    """``[(5, 0.5), (5, 0.5)]`` -> ``"5:0.5,5:0.5"``; ``[]`` -> ``"sgd"`` (the C program's LAYERS)."""
    return ",".join(f"{int(k)}:{float(alpha)!r}" for k, alpha in layers) or "sgd"


def c_loop_problem(d):
    """The problem hard-wired in ``c_loop.c``.

    Parameters
    ----------
    d : int
        Dimension.

    Returns
    -------
    h : ndarray, shape (d,)
        ``10 ** (-2 + 2 i / (d - 1))``, log-spaced in [0.01, 1] (``[1.0]`` when ``d == 1``).
    xstar : ndarray, shape (d,)
        All ones.
    x0 : ndarray, shape (d,)
        All zeros (start of every level).
    """
    d = int(d)
    h = np.ones(1) if d == 1 else 10.0 ** (-2.0 + 2.0 * np.arange(d) / (d - 1.0))
    return h, np.ones(d), np.zeros(d)


def build_c_loop(force=False) -> Path:
    """Compile ``c_loop.c`` into ``benchmarks/bin/c_loop`` if missing or older than the source.

    Parameters
    ----------
    force : bool, optional
        Recompile even if the binary is up to date.

    Returns
    -------
    pathlib.Path
        The binary.

    Raises
    ------
    RuntimeError
        If the compiler (``gcc``, or ``$CC``) is not found or the compilation fails.
    """
    if not force and BINARY.exists() and BINARY.stat().st_mtime >= SOURCE.stat().st_mtime:
        return BINARY
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        raise RuntimeError(f"C compiler {cc!r} not found on PATH; the C baseline needs gcc with "
                           f"OpenMP (e.g. apt-get install gcc), or set CC to another compiler")
    BINARY.parent.mkdir(parents=True, exist_ok=True)
    # Compile to a temporary name and rename, so concurrent callers never run a partial binary.
    fd, tmp = tempfile.mkstemp(prefix="c_loop.", dir=BINARY.parent)
    os.close(fd)
    try:
        cmd = [cc, *CFLAGS, str(SOURCE), "-o", tmp, *LIBS]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"compiling the C baseline failed ({' '.join(cmd)}):\n{result.stderr}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, BINARY)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return BINARY


def run_c_loop(d, R, layers, lr, sigma, T, threads, seed=0, *, records=False):
    """Run the C baseline once.

    Parameters
    ----------
    d : int
        Dimension of the problem :func:`c_loop_problem` ``(d)``.
    R : int
        Number of independent replicates.
    layers : sequence of (int, float)
        ``[(k_1, alpha_1), ..., (k_n, alpha_n)]``, innermost first; ``[]`` is plain SGD.
    lr : float
        Inner learning rate eta.
    sigma : float
        Noise level, ``G = grad f(x) + sigma * z / sqrt(d)``.
    T : int
        Top-level iterations (each ``K = prod k_i`` oracle calls).
    threads : int
        ``OMP_NUM_THREADS`` for the run.
    seed : int, optional
        Base seed (>= 0) of the per-replicate xoshiro256+ streams (replicate r is seeded by
        splitmix64 from ``(seed << 32) ^ r``).
    records : bool, optional
        Also return the records (written by the C program to a temporary file).

    Returns
    -------
    dict
        ``seconds`` (float, wall time of the simulation loop only), ``cpu_seconds`` (its CPU
        time summed over threads), ``checksum`` (float, sum of all records), and with
        ``records=True`` also ``f`` and ``gradnorm2``, arrays of shape (R, T) holding
        ``f(phi_n)`` and ``||grad f(phi_n)||^2`` after top-level iterations t = 1..T.

    Raises
    ------
    RuntimeError
        If the compiler is missing or the program fails.
    """
    binary = build_c_loop()
    R, T = int(R), int(T)
    args = [str(binary), str(int(d)), str(R), str(T), repr(float(lr)), repr(float(sigma)),
            format_layers(layers), str(int(seed))]
    env = dict(os.environ, OMP_NUM_THREADS=str(int(threads)))
    with tempfile.TemporaryDirectory() as tmpdir:
        path = os.path.join(tmpdir, "records.f64")
        if records:
            args.append(path)
        result = subprocess.run(args, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"c_loop failed ({' '.join(args)}):\n{result.stderr}")
        out = dict(line.split("=", 1) for line in result.stdout.split())
        report = {"seconds": float(out["elapsed_s"]), "cpu_seconds": float(out["cpu_s"]),
                  "checksum": float(out["checksum"])}
        if records:
            data = np.fromfile(path, dtype=np.float64).reshape(2, R, T)
            report["f"], report["gradnorm2"] = data[0], data[1]
    return report


def time_c_loop(d, R, layers, lr, sigma, T, threads, seed=0):
    """Seconds of the C baseline's simulation loop (compiling it first if needed).

    Parameters
    ----------
    d, R, layers, lr, sigma, T, threads, seed
        As for :func:`run_c_loop`.

    Returns
    -------
    float
        Elapsed seconds of the OpenMP loop over replicates, measured inside the program with
        ``clock_gettime(CLOCK_MONOTONIC)``; process start-up and I/O are excluded.
    """
    return run_c_loop(d, R, layers, lr, sigma, T, threads, seed)["seconds"]
