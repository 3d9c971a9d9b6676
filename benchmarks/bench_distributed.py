"""Wall times of the main job and of a sweep on each scheduler, the work units' sizes, Dask's overhead.

    python benchmarks/bench_distributed.py [--quick] [--sweep C2] [--sweep-size full]
                                           [--schedulers local processes:1 processes:2] [--tasks 400]

1. Wall time, as a user sees it, and CPU time (the process and its workers) of
   ``mla-check --no-cache`` (the default size, or ``--quick``) and ``mla-check sweep CLAIM
   --no-cache`` (its default grid, at ``--sweep-size``, default full: about a minute on 2 cores,
   enough work for the cluster's start to pay), each in a fresh process, once per scheduler, with
   the speed-up over ``local`` and the cores used (CPU time / wall time: what the neighbours left).
   The numba cache is warm for all (a first run fills it). Each run's summary.json and sweep.json
   must equal the local run's (timings, created and the scheduler aside): "same numbers".
2. Unit sizes, from the ``processes:1`` run's ``unit_seconds`` (one single-threaded worker: the
   units as a cluster's workers run them, where the local run's kernels use every core): per group
   the number of units, the largest and the total; W = the total work, L = the largest unit (the
   critical path: units are independent), S = the serial part (process and cluster start,
   judging, figures and files), that run's wall time minus W. A projection to P workers: the
   makespan of any greedy assignment of independent tasks lies between max(W / P, L) and
   W / P + L (Graham 1969), plus S.
3. Dask's overhead per task: ``--tasks`` tasks of no work (``abs(0)``) through ``processes:2``,
   submitted at once (throughput: wall / tasks, the scheduler's cost per task) and one at a time
   (latency: the round trip). A unit of u seconds keeps a worker busy u / (u + overhead) of the
   time; the smallest unit worth a task is about 10 x the overhead (90 %).

The machine's load average is printed before and after: on a shared 2-core machine a neighbour's
load changes every wall time here; a package source edited during the run changes the numbers
(reported).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mla_numeric.execution import Cluster, Local, source_digest


def run(args: list, cwd: str) -> tuple:
    """(wall seconds, CPU seconds) of ``mla-check args`` in a fresh process, its workers included
    (exit status 0 or 1: a check may fail)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mla_numeric.cli", *args], cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"mla-check {' '.join(args)} failed:\n{done.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def comparable(path: Path) -> dict:
    """summary.json or sweep.json without timings, created, the scheduler and the folder."""
    data = json.loads(path.read_text())
    for key in ("timings_seconds", "unit_seconds", "created"):
        data.pop(key, None)
    for key in ("scheduler", "out"):
        data.get("configuration", {}).pop(key, None)
    return data


def walls(schedulers: list, size: list, sweep: list, cwd: str) -> dict:
    """{job: {scheduler: seconds}}; checks that every scheduler gives the local numbers."""
    times = {"mla-check": {}, f"sweep {sweep[0]}": {}}
    run(size + ["--out", "warm", "--no-cache"], cwd)  # fills numba's cache
    for scheduler in schedulers:
        times["mla-check"][scheduler] = run(size + ["--no-cache", "--out", f"report-{scheduler}",
                                                    "--scheduler", scheduler], cwd)
        times[f"sweep {sweep[0]}"][scheduler] = run(["sweep", *sweep, "--no-cache", "--out", f"sweep-{scheduler}",
                                                     "--scheduler", scheduler], cwd)
    for prefix, name in (("report", "summary.json"), ("sweep", "sweep.json")):
        reference = comparable(Path(cwd, f"{prefix}-{schedulers[0]}", name))
        other = [s for s in schedulers if comparable(Path(cwd, f"{prefix}-{s}", name)) != reference]
        print(f"same numbers in {name} on every scheduler: {'yes' if not other else 'NO: ' + ', '.join(other)}")
    return times


def overhead(tasks: int) -> tuple:
    """(seconds per task submitted at once, seconds per round trip) on processes:2."""
    with Cluster("processes:2") as cluster:
        list(cluster.run([[(abs, 0)]], progress=False))  # the cluster is up and warm
        start = time.perf_counter()
        list(cluster.run([[(abs, -i)] for i in range(tasks)], progress=False))
        throughput = (time.perf_counter() - start) / tasks
        start = time.perf_counter()
        for i in range(min(tasks, 50)):
            list(cluster.run([[(abs, -i)]], progress=False))
        latency = (time.perf_counter() - start) / min(tasks, 50)
    local = time.perf_counter()
    list(Local().run([[(abs, -i)] for i in range(tasks)], progress=False))
    return throughput, latency, (time.perf_counter() - local) / tasks


def units(summary: dict, wall: float) -> tuple:
    """Print the unit sizes of a run; (W, L, S)."""
    print(f"\nunits of the {summary['configuration']['scheduler']} run:")
    print(f"{'group':<15}{'units':>6}{'largest s':>11}{'total s':>9}")
    for group, seconds in summary["unit_seconds"].items():
        print(f"{group:<15}{len(seconds):>6}{max(seconds):>11.2f}{sum(seconds):>9.1f}")
    work = sum(sum(seconds) for seconds in summary["unit_seconds"].values())
    largest = max(max(seconds) for seconds in summary["unit_seconds"].values())
    return work, largest, max(wall - work, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the quick size of mla-check")
    parser.add_argument("--sweep", default="C2", help="the claim to sweep (default C2)")
    parser.add_argument("--sweep-size", default="full", choices=("quick", "default", "full"),
                        help="the size of the sweep (default full)")
    parser.add_argument("--schedulers", nargs="+", default=["local", "processes:1", "processes:2"])
    parser.add_argument("--tasks", type=int, default=400, help="no-op tasks for the overhead (default 400)")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}, {os.cpu_count()} cores")
    sources = source_digest()
    with tempfile.TemporaryDirectory() as cwd:
        sweep = [args.sweep] + ([] if args.sweep_size == "default" else [f"--{args.sweep_size}"])
        times = walls(args.schedulers, ["--quick"] if args.quick else [], sweep, cwd)
        single = "processes:1" if "processes:1" in args.schedulers else args.schedulers[0]
        summary = json.loads(Path(cwd, f"report-{single}", "summary.json").read_text())
        work, largest, serial = units(summary, times["mla-check"][single][0])
    source_digest.cache_clear()
    if source_digest() != sources:
        print("the package's sources changed during the benchmark: the runs may differ for that reason")
    print(f"\nwall time, speed-up over {args.schedulers[0]}, CPU time / wall time (cores used)")
    print(f"{'job':<14}" + "".join(f"{s:>24}" for s in args.schedulers))
    for job, seconds in times.items():
        base = seconds[args.schedulers[0]][0]
        print(f"{job:<14}" + "".join(f"{wall:>8.1f} s {base / wall:>5.2f}x {cpu / wall:>5.2f} cores"
                                     for wall, cpu in (seconds[s] for s in args.schedulers)))
    throughput, latency, local = overhead(args.tasks)
    print(f"\noverhead per task on processes:2: {1e3 * throughput:.2f} ms submitted at once, "
          f"{1e3 * latency:.2f} ms one at a time (local: {1e6 * local:.1f} us)")
    print(f"a unit of u seconds keeps a worker busy u / (u + {throughput:.3g}); 90 % from u = {9 * throughput:.3g} s")
    print(f"\nW = {work:.1f} s of work, L = {largest:.1f} s the largest unit, S = {serial:.1f} s serial")
    for workers in (1, 2, 64, 512):
        low, high = max(work / workers, largest) + serial, work / workers + largest + serial
        print(f"P = {workers:>3}: between {low:.1f} and {high:.1f} s")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
