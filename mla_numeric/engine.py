"""The simulator: the only place that steps an optimizer.

``simulate`` validates and prepares; the private kernel ``_advance`` runs R replicates in
parallel (``prange``, one replicate per task, each writing only its own rows) for a block of
top-level iterations. Per replicate the state is a contiguous (n + 1, d) array of levels
phi_0 (fast weights), phi_1, ..., phi_n (slow weights), and one top-level iteration is the
counter form of THEORY.md: after fast step j = 1..K,

    phi_0 <- phi_0 - eta G(phi_0, xi_c)                                   (oracle call c)
    for i = 1..n while (k_1 ... k_i) divides j:  phi_i <- phi_i + alpha_i (phi_{i-1} - phi_i)
    phi_0, ..., phi_{top-1} <- phi_top                  (top: the highest level synchronised)

After each top-level iteration it records the exact f(phi_n) and ||grad f(phi_n)||^2. The noise of
call c of a replicate comes from the counter-based stream keyed by (seed, replicate) at position c
(rng.py), so results are bit-identical for any thread count, replicate chunking or time blocking.
A replicate whose records turn non-finite (overflow included) stops; its step is reported.
"""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from numba import njit, prange
from tqdm import tqdm

from . import __version__
from ._numba import JIT, PARALLEL
from .objectives.base import Objective
from .oracles import GAUSSIAN, PRESCRIBED, RESHUFFLE, GaussianNoise
from .function_set import component_grad, function_set, grad, value
from .rng import normal, stream_keys, uniform_index
from .spec import MLA, check_finite_array, check_positive

__all__ = ["simulate", "SimulationResult", "Summary", "Divergence", "DivergenceWarning"]


class DivergenceWarning(RuntimeWarning):
    """Some replicates diverged and are excluded from the summaries."""


@njit(**JIT)
def shuffle_epoch(key, epoch, perm):
    """perm <- the uniformly random order of epoch ``epoch`` (Fisher-Yates on the stream).

    Swap i = m-1..1 draws its partner from position epoch * m + i of the stream.
    """
    m = perm.shape[0]
    for i in range(m):
        perm[i] = i
    for i in range(m - 1, 0, -1):
        j = uniform_index(key, epoch * m + i, i + 1)
        perm[i], perm[j] = perm[j], perm[i]


@njit(inline="always", **JIT)
def _oracle(functions, data, x, key, call, oracle, perm, out):
    """out <- G(x, xi_call): one stochastic gradient (see oracles.py).

    ``perm`` holds the current epoch's order (reshuffled or prescribed).
    """
    kind, noise_scale, m, _ = oracle
    if kind == GAUSSIAN:
        grad(functions, x, data, out)
        d = x.shape[0]
        for q in range(noise_scale.shape[0]):  # empty when there is no noise: no draws
            out[q] += noise_scale[q] * normal(key, call * d + q)
    elif kind == RESHUFFLE or kind == PRESCRIBED:
        position = call % m
        if kind == RESHUFFLE and position == 0:
            shuffle_epoch(key, call // m, perm)
        component_grad(functions, x, perm[position], data, out)
    else:
        component_grad(functions, x, uniform_index(key, call, m), data, out)


@njit(**PARALLEL)
def _advance(functions, data, optimizer, oracle, keys, state, calls, diverged_at, loss,
             grad_norm_sq, trajectory, t_start, iterations):
    """Advance every live replicate by ``iterations`` top-level iterations from t_start, in place.

    optimizer = (ks, alphas, lr) and oracle = (kind, noise_scale (d,) or (0,) without noise,
    m, orders (R, m) or (R, 0)) are read-only tuples. The arrays written are separate arguments,
    because numba's parfors do not write back through tuples: state (R, n+1, d), calls (R,),
    diverged_at (R,) (-1 while alive), and the records at columns t_start + 1 .. t_start +
    iterations of loss and grad_norm_sq (R, T+1) and trajectory (R, T+1, d) or (R, 0, d).
    Whole arrays with an offset keep one array layout, hence one compiled kernel.
    """
    ks, alphas, lr = optimizer
    replicates, levels, d = state.shape
    n = levels - 1
    K = 1
    for k in ks:
        K *= k
    m, orders = oracle[2], oracle[3]
    keep_trajectory = trajectory.shape[1] > 0
    for r in prange(replicates):
        if diverged_at[r] >= 0:  # its remaining records are NaN already
            continue
        phi = state[r]  # levels of this replicate; views made once, not per step
        fast, slow = phi[0], phi[n]
        key = keys[r]
        g = np.empty(d)
        perm = np.empty(m, dtype=np.int64)
        call = calls[r]
        if oracle[0] == RESHUFFLE and call % m != 0:
            shuffle_epoch(key, call // m, perm)
        elif oracle[0] == PRESCRIBED:
            perm[:] = orders[r]
        for t in range(t_start + 1, t_start + iterations + 1):
            for j in range(1, K + 1):
                _oracle(functions, data, fast, key, call, oracle, perm, g)
                for q in range(d):
                    fast[q] -= lr * g[q]
                call += 1
                top, period = 0, 1
                for i in range(n):
                    period *= ks[i]
                    if j % period != 0:
                        break
                    for q in range(d):
                        phi[i + 1, q] += alphas[i] * (phi[i, q] - phi[i + 1, q])
                    top = i + 1
                for i in range(top):
                    for q in range(d):
                        phi[i, q] = phi[top, q]
            f = value(functions, slow, data)
            grad(functions, slow, data, g)
            norm_sq = 0.0
            for q in range(d):
                norm_sq += g[q] * g[q]
            loss[r, t] = f
            grad_norm_sq[r, t] = norm_sq
            if keep_trajectory:
                trajectory[r, t, :] = slow
            if not (math.isfinite(f) and math.isfinite(norm_sq)):
                diverged_at[r] = t
                loss[r, t:] = np.nan
                grad_norm_sq[r, t:] = np.nan
                if keep_trajectory:
                    trajectory[r, t:, :] = np.nan
                break
        calls[r] = call


@dataclass(frozen=True)
class Divergence:
    """Replicate ``replicate`` of the run with base ``seed`` turned non-finite at iteration ``step``."""

    replicate: int
    seed: int
    step: int


@dataclass
class Summary:
    """Mean and standard error over the replicates that did not diverge, per iteration t = 0..T."""

    mean: np.ndarray
    stderr: np.ndarray
    count: int

    def to_dict(self) -> dict:
        return {"mean": _json_list(self.mean), "stderr": _json_list(self.stderr), "count": self.count}


@dataclass
class SimulationResult:
    """What ``simulate`` returns.

    Attributes
    ----------
    config : dict
        Everything that reproduces the run (JSON-ready).
    replicates : ndarray of int
        The replicate indices run (their streams are keyed by (seed, replicate)).
    loss, grad_norm_sq : Summary
        f(phi_t) and ||grad f(phi_t)||^2 for t = 0..T over the replicates that did not diverge.
    average_grad_norm_sq : ndarray, shape (R,)
        Per replicate (1/T) sum_{t<T} ||grad f(phi_t)||^2 (NaN where it diverged).
    diverged : list of Divergence
    final : ndarray, shape (R, d)
        phi_T per replicate.
    loss_records, grad_norm_sq_records : ndarray (R, T+1) or None
        Per-replicate records (``keep="records"`` only).
    trajectory : ndarray (R, T+1, d) or None
        Slow weights phi_t (``trajectory=True`` only).
    """

    config: dict
    replicates: np.ndarray
    loss: Summary
    grad_norm_sq: Summary
    average_grad_norm_sq: np.ndarray
    diverged: list
    final: np.ndarray
    loss_records: np.ndarray | None = None
    grad_norm_sq_records: np.ndarray | None = None
    trajectory: np.ndarray | None = None

    def to_dict(self) -> dict:
        """The JSON form printed by ``mla-check simulate --json``."""
        return {"config": self.config, "loss": self.loss.to_dict(),
                "grad_norm_sq": self.grad_norm_sq.to_dict(),
                "diverged": [vars(event) for event in self.diverged]}


@dataclass
class _RunningMoments:
    """Chan et al.'s pairwise update of count, mean and sum of squared deviations, per t."""

    count: int = 0
    mean: np.ndarray | float = 0.0
    m2: np.ndarray | float = 0.0

    def add(self, rows: np.ndarray):
        if len(rows) == 0:
            return
        count, mean = len(rows), rows.mean(axis=0)
        m2 = ((rows - mean) ** 2).sum(axis=0)
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * count / total
        self.m2 = self.m2 + m2 + delta ** 2 * self.count * count / total
        self.count = total

    def summary(self, length: int) -> Summary:
        if self.count == 0:
            nan = np.full(length, np.nan)
            return Summary(nan, nan.copy(), 0)
        stderr = np.sqrt(self.m2 / (self.count - 1) / self.count) if self.count > 1 \
            else np.full(length, np.nan)
        return Summary(np.asarray(self.mean), stderr, self.count)


def simulate(objective: Objective, optimizer: MLA, T: int, seeds=1, oracle=None, x0=None, *,
             seed: int = 0, keep: str = "records", trajectory: bool = False,
             chunk: int | None = None, block: int | None = None,
             progress: bool | None = None) -> SimulationResult:
    """Run ``optimizer`` on ``objective`` for T top-level iterations, over many replicates.

    Parameters
    ----------
    objective : Objective
    optimizer : MLA
    T : int
        Number of top-level iterations (>= 1); each makes ``optimizer.K`` oracle calls.
    seeds : int or sequence of int
        R (replicates 0..R-1) or the replicate indices to run; replicate r uses the stream
        keyed by (seed, r), so any subset reproduces the same replicates bit for bit.
    oracle : GaussianNoise, WithReplacement or RandomReshuffling
        Default: exact gradients (``GaussianNoise(0.0)``).
    x0 : array, optional
        Start of every level (default ``objective.start()``).
    seed : int
        Base seed of the random streams, 0 <= seed < 2**63.
    keep : {"records", "summary"}
        "records" keeps the (R, T+1) records; "summary" streams replicates in chunks and keeps
        only running sums, so memory is O(chunk * T) whatever R.
    trajectory : bool
        Also keep phi_t for every replicate (``keep="records"`` only).
    chunk, block : int, optional
        Replicates per kernel call and iterations per kernel call (results do not depend on them).
    progress : bool, optional
        Show a progress bar on stderr (default: only for long runs, on a terminal).
    """
    if not isinstance(objective, Objective):
        raise ValueError(f"objective must be an mla_numeric Objective, got {type(objective).__name__}")
    if not isinstance(optimizer, MLA):
        raise ValueError(f"optimizer must be an mla_numeric.MLA, got {type(optimizer).__name__}")
    T = check_positive("T", T, integer=True)
    replicates = _replicate_indices(seeds)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2 ** 63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    oracle = GaussianNoise(0.0) if oracle is None else oracle
    if not hasattr(oracle, "kind"):
        raise ValueError(f"unknown oracle {oracle!r}; use GaussianNoise, WithReplacement or RandomReshuffling")
    if oracle.kind != GAUSSIAN and not objective.is_finite_sum:
        raise ValueError(f"oracle {oracle.name!r} needs a finite-sum objective; "
                         f"{objective.name!r} has no components (use the gaussian oracle)")
    d = objective.dim
    x0 = objective.start() if x0 is None else check_finite_array("x0", x0, (d,))
    if keep not in ("records", "summary"):
        raise ValueError(f"keep must be 'records' or 'summary', got {keep!r}")
    if trajectory and keep != "records":
        raise ValueError("trajectory=True needs keep='records'")
    R = len(replicates)
    chunk = (R if keep == "records" else min(R, 64)) if chunk is None else check_positive("chunk", chunk, integer=True)
    block = max(1, -(-T // 20)) if block is None else check_positive("block", block, integer=True)

    f0, g0 = objective.f(x0), objective.gradient(x0)
    if not (math.isfinite(f0) and np.all(np.isfinite(g0))):
        raise ValueError("f or grad f is not finite at x0")
    optimizer_args = (optimizer.ks, optimizer.alphas, optimizer.lr)
    m = max(objective.m, 1)
    noise_scale = oracle.noise_scale(d)
    noise_scale = noise_scale if np.any(noise_scale) else np.zeros(0)
    orders = oracle.check(replicates, m) if oracle.kind == PRESCRIBED else np.zeros((R, 0), dtype=np.int64)
    keys = stream_keys(seed, replicates)
    functions = function_set(objective)

    loss_moments, grad_moments = _RunningMoments(), _RunningMoments()
    loss_rows, grad_rows, traj_rows, finals, diverged = [], [], [], [], []
    averages = np.empty(R)
    # tqdm's disable=None: shown on a terminal only.
    hide = (None if R * T * optimizer.K * d > 2e8 else True) if progress is None else not progress
    with tqdm(total=R * T, unit="it", disable=hide, leave=False,
              desc=f"simulate {optimizer.describe()}") as bar:
        for start in range(0, R, chunk):
            rows = slice(start, min(start + chunk, R))
            size = rows.stop - rows.start
            state = np.empty((size, optimizer.depth + 1, d))
            state[:] = x0
            calls, diverged_at = np.zeros(size, dtype=np.int64), np.full(size, -1, dtype=np.int64)
            loss = np.empty((size, T + 1))
            grad_norm_sq = np.empty((size, T + 1))
            traj = np.empty((size, T + 1 if trajectory else 0, d))
            loss[:, 0], grad_norm_sq[:, 0] = f0, float(g0 @ g0)
            if trajectory:
                traj[:, 0] = x0
            for t in range(0, T, block):
                stop = min(t + block, T)
                _advance(functions, objective.data, optimizer_args,
                         (oracle.kind, noise_scale, m, orders[rows]), keys[rows], state, calls,
                         diverged_at, loss, grad_norm_sq, traj, t, stop - t)
                bar.update(size * (stop - t))
            alive = diverged_at < 0
            diverged += [Divergence(int(replicates[start + i]), int(seed), int(diverged_at[i]))
                         for i in np.flatnonzero(~alive)]
            loss_moments.add(loss[alive])
            grad_moments.add(grad_norm_sq[alive])
            averages[rows] = np.nan
            averages[rows][alive] = grad_norm_sq[alive, :T].mean(axis=1)
            finals.append(state[:, -1])
            if keep == "records":
                loss_rows.append(loss)
                grad_rows.append(grad_norm_sq)
                traj_rows.append(traj)
    if diverged:
        first = diverged[0]
        warnings.warn(f"{len(diverged)} of {R} replicates diverged (first: replicate {first.replicate} "
                      f"of seed {first.seed} at iteration {first.step}); the summaries exclude them",
                      DivergenceWarning, stacklevel=2)
    config = {"objective": objective.to_dict(), "optimizer": optimizer.to_dict(),
              "oracle": oracle.to_dict(d), "T": T, "seed": int(seed),
              "replicates": replicates.tolist(), "x0": x0.tolist(),
              "package": {"name": "mla-numeric", "version": __version__}}
    records = keep == "records"
    return SimulationResult(
        config=config, replicates=replicates,
        loss=loss_moments.summary(T + 1), grad_norm_sq=grad_moments.summary(T + 1),
        average_grad_norm_sq=averages, diverged=diverged, final=np.concatenate(finals),
        loss_records=np.concatenate(loss_rows) if records else None,
        grad_norm_sq_records=np.concatenate(grad_rows) if records else None,
        trajectory=np.concatenate(traj_rows) if trajectory else None)


def _replicate_indices(seeds) -> np.ndarray:
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        return np.arange(check_positive("seeds (number of replicates)", seeds, integer=True))
    message = f"seeds must be a number of replicates >= 1 or a non-empty list of distinct " \
              f"replicate indices in [0, 2**63), got {seeds!r}"
    try:
        items = list(seeds)
    except TypeError:
        raise ValueError(message) from None
    if not items or not all(isinstance(r, numbers.Integral) and not isinstance(r, bool) for r in items):
        raise ValueError(message)
    replicates = [int(r) for r in items]
    if len(set(replicates)) != len(replicates) or not all(0 <= r < 2 ** 63 for r in replicates):
        raise ValueError(message)
    return np.array(replicates, dtype=np.int64)


def _json_list(values: np.ndarray) -> list:
    """Floats for JSON, with None where a value is not finite."""
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float)]
