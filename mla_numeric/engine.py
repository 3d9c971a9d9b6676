"""The simulator: the only place that steps an optimizer.

``simulate`` validates and prepares; the private kernel ``_advance`` runs R replicates in
parallel (``prange``, one replicate per task, each writing only its own rows) for a block of
top-level iterations. Per replicate the state is a contiguous (n + 1, d) array of levels
phi_0 (fast weights), phi_1, ..., phi_n (slow weights), and one top-level iteration is the
counter form of THEORY.md: after fast step j = 1..K,

    phi_0 <- phi_0 - eta G(phi_0, xi_c)                                   (oracle call c)
    for i = 1..n while (k_1 ... k_i) divides j:  phi_i <- phi_i + alpha_i (phi_{i-1} - phi_i)
    phi_0, ..., phi_{top-1} <- phi_top                  (top: the highest level synchronised)

The kernel keeps the counters c_i of THEORY.md (``counts``) rather than testing divisibility.
After each top-level iteration it records the exact f(phi_n) (unless ``record_loss=False``) and
||grad f(phi_n)||^2. The randomness of call c of a replicate comes from the counter-based stream
keyed by (seed, replicate) at position c (Gaussian noise: positions c d .. c d + d - 1; rng.py),
so results are bit-identical for any thread count, replicate chunking or time blocking. A
replicate whose records turn non-finite (overflow included) stops; its step is reported.

Speed (benchmarks/bench_engine.py): the normals of many oracle calls are drawn ahead in one bulk
call (``rng.normals``, the same numbers as ``rng.normal`` one by one, in a loop the compiler
vectorises), and the objective's functions are called in place (``_grad`` below) rather than
through a wrapper that reference-counts its array arguments on every call. With Gaussian noise
the gradient recorded at the end of a top-level iteration is reused by the next fast step.
"""
from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit, prange
from numba.extending import intrinsic
from numpy.typing import ArrayLike
from tqdm import tqdm

from ._numba import JIT, PARALLEL
from ._typing import JSON, FloatArray, IntArray
from ._version import __version__
from .function_set import _REGISTRY, function_set  # _REGISTRY: token -> FunctionSet
from .objectives.base import Objective
from .oracles import GAUSSIAN, PRESCRIBED, RESHUFFLE, GaussianNoise, Oracle
from .rng import normals, stream_keys, uniform_index
from .spec import MLA, check_finite_array, check_positive

_NORMALS_PER_BATCH = 1024  # normals drawn ahead per replicate (8 KB: stays in L1)
_COLUMNS_PER_BLOCK = 2048  # of the records, per step of the summaries (64 replicates: 1 MB)

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


# ---- the objective's compiled functions, called without overhead -------------------------
# function_set's overloads ``value``/``grad``/``component_grad`` reach the objective through a
# wrapper function whose array arguments numba reference-counts on every call (four atomic
# increments and decrements: about 50 cycles per call, more than a whole fast step at d = 10).
# These intrinsics emit the objective's own function call in place instead, exactly as a direct
# call of the dispatcher would be lowered; the FunctionSet type still keys the cache.

def _direct_call(typingctx, field, functions, args):
    implementation = getattr(_REGISTRY[functions.token], field)
    function_type = typingctx.resolve_value_type(implementation)
    call_signature = function_type.get_call_type(typingctx, args, {})

    def codegen(context, builder, signature, values):
        return context.get_function(function_type, call_signature)(builder, values[1:])
    return call_signature.return_type(functions, *args), codegen


@intrinsic
def _value(typingctx, functions, x, data):
    """f(x)."""
    return _direct_call(typingctx, "value", functions, (x, data))


@intrinsic
def _grad(typingctx, functions, x, data, out):
    """out <- grad f(x)."""
    return _direct_call(typingctx, "grad", functions, (x, data, out))


@intrinsic
def _component_grad(typingctx, functions, x, a, data, out):
    """out <- grad f_a(x)."""
    return _direct_call(typingctx, "component_grad", functions, (x, a, data, out))


@njit(**PARALLEL)
def _advance(functions, data, optimizer, oracle, keys, state, calls, diverged_at, loss,
             grad_norm_sq, trajectory, t_start, iterations):
    """Advance every live replicate by ``iterations`` top-level iterations from t_start, in place.

    optimizer = (ks, alphas, lr) and oracle = (kind, noise_scale (d,) or (0,) without noise,
    m, orders (R, m) or (R, 0)) are read-only tuples. The arrays written are separate arguments,
    because numba's parfors do not write back through tuples: state (R, n+1, d), calls (R,),
    diverged_at (R,) (-1 while alive), and the records at columns t_start + 1 .. t_start +
    iterations of loss (R, T+1) or (R, 0) (f not computed), grad_norm_sq (R, T+1) and trajectory
    (R, T+1, d) or (R, 0, d). Whole arrays with an offset keep one array layout, hence one
    compiled kernel.

    With Gaussian noise the first fast step of a top-level iteration reuses the gradient just
    recorded: every level equals phi_n after the top synchronisation, so grad f(phi_0) is that
    gradient, bit for bit (K + 1 gradients per iteration become K: half of SGD's).
    """
    ks, alphas, lr = optimizer
    replicates, levels, d = state.shape
    n = levels - 1
    K = 1
    for k in ks:
        K *= k
    kind, noise_scale, m, orders = oracle
    noisy = kind == GAUSSIAN and noise_scale.shape[0] > 0
    keep_trajectory = trajectory.shape[1] > 0
    keep_loss = loss.shape[1] > 0
    # Normals are drawn ahead for `batch` oracle calls at a time: call c uses positions
    # c d .. c d + d - 1 of the stream, so a batch is one contiguous run of positions.
    batch = max(1, _NORMALS_PER_BATCH // d) if noisy else 0
    # GaussianNoise(sigma) has one scale for every coordinate: multiplying by that number rather
    # than reading noise_scale saves a memory stream. Same bits (signed zeros too), same products.
    scale = noise_scale[0] if noisy else 0.0
    same_scale = True
    for s in noise_scale:
        same_scale &= s == scale and math.copysign(1.0, s) == math.copysign(1.0, scale)
    for r in prange(replicates):
        if diverged_at[r] >= 0:  # its remaining records are NaN already
            continue
        phi = state[r]  # levels of this replicate; views made once, not per step
        fast, slow = phi[0], phi[n]
        key = keys[r]
        g = np.empty(d)
        perm = np.empty(m, dtype=np.int64)
        counts = np.zeros(n, dtype=np.int64)  # fast steps / cycles done at each level
        z = np.empty(batch * d)
        flags = np.empty(-(-batch * d // 8) * 8, dtype=np.uint8)
        call = calls[r]
        batch_end = call  # z holds the normals of calls batch_end - batch .. batch_end - 1
        position, epoch = 0, 0
        g_at_fast = False  # g holds grad f(phi_0): the record's gradient, phi_0 = phi_n
        if kind == RESHUFFLE or kind == PRESCRIBED:  # noqa: SIM109 (numba kernel: scalar comparisons)
            position, epoch = call % m, call // m
            if kind == PRESCRIBED:
                perm[:] = orders[r]
            elif position != 0:
                shuffle_epoch(key, epoch, perm)
        for t in range(t_start + 1, t_start + iterations + 1):
            for _ in range(K):
                # fast step: phi_0 <- phi_0 - eta G(phi_0, xi_call)
                if kind == GAUSSIAN:
                    if not g_at_fast:
                        _grad(functions, fast, data, g)
                    g_at_fast = False
                    if noisy:
                        if call == batch_end:
                            normals(key, call * d, z, flags)
                            batch_end = call + batch
                        offset = (call - (batch_end - batch)) * d
                        if same_scale:
                            for q in range(d):
                                fast[q] -= lr * (g[q] + scale * z[offset + q])
                        else:
                            for q in range(d):
                                fast[q] -= lr * (g[q] + noise_scale[q] * z[offset + q])
                    else:
                        for q in range(d):
                            fast[q] -= lr * g[q]
                else:
                    if kind == RESHUFFLE or kind == PRESCRIBED:  # noqa: SIM109 (numba kernel)
                        if position == m:
                            position, epoch = 0, epoch + 1
                        if kind == RESHUFFLE and position == 0:
                            shuffle_epoch(key, epoch, perm)
                        component = perm[position]
                        position += 1
                    else:
                        component = uniform_index(key, call, m)
                    _component_grad(functions, fast, component, data, g)
                    for q in range(d):
                        fast[q] -= lr * g[q]
                call += 1
                # counters: level i + 1 synchronises when level i completes k_{i+1} cycles
                top = 0
                while top < n:
                    counts[top] += 1
                    if counts[top] < ks[top]:
                        break
                    counts[top] = 0
                    for q in range(d):
                        phi[top + 1, q] += alphas[top] * (phi[top, q] - phi[top + 1, q])
                    top += 1
                for i in range(top):
                    for q in range(d):
                        phi[i, q] = phi[top, q]
            f = _value(functions, slow, data) if keep_loss else 0.0
            _grad(functions, slow, data, g)
            g_at_fast = True
            norm_sq = 0.0
            for q in range(d):
                norm_sq += g[q] * g[q]
            if keep_loss:
                loss[r, t] = f
            grad_norm_sq[r, t] = norm_sq
            if keep_trajectory:
                trajectory[r, t, :] = slow
            if not (math.isfinite(f) and math.isfinite(norm_sq)):
                diverged_at[r] = t
                if keep_loss:
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

    def to_dict(self) -> JSON:
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

    config: JSON
    replicates: np.ndarray
    loss: Summary
    grad_norm_sq: Summary
    average_grad_norm_sq: np.ndarray
    diverged: list[Divergence]
    final: np.ndarray
    loss_records: np.ndarray | None = None
    grad_norm_sq_records: np.ndarray | None = None
    trajectory: np.ndarray | None = None

    def to_dict(self) -> JSON:
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

    def add(self, rows: FloatArray) -> None:
        if len(rows) == 0:
            return
        count, columns = rows.shape
        if columns <= _COLUMNS_PER_BLOCK:  # short runs, many replicates: numpy at once
            mean = rows.mean(axis=0)
            m2 = ((rows - mean) ** 2).sum(axis=0)
        else:
            mean, m2 = self._by_blocks(rows)
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * count / total
        self.m2 = self.m2 + m2 + delta ** 2 * self.count * count / total
        self.count = total

    @staticmethod
    def _by_blocks(rows: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(mean, m2) over the rows by blocks of columns, so that the temporaries stay in cache (a
        long run's rows are hundreds of MB), adding the rows in order as numpy's mean(axis=0) and
        sum(axis=0) do for two columns or more: the same bits."""
        count, columns = rows.shape
        mean, m2 = np.empty(columns), np.empty(columns)
        for start in range(0, columns, _COLUMNS_PER_BLOCK):
            block = rows[:, start:start + _COLUMNS_PER_BLOCK]
            total = block[0].copy()
            for row in block[1:]:
                total += row
            block_mean = mean[start:start + _COLUMNS_PER_BLOCK] = total / count
            total = (block[0] - block_mean) ** 2
            for row in block[1:]:
                total += (row - block_mean) ** 2
            m2[start:start + _COLUMNS_PER_BLOCK] = total
        return mean, m2

    def summary(self, length: int) -> Summary:
        if self.count == 0:
            nan = np.full(length, np.nan)
            return Summary(nan, nan.copy(), 0)
        stderr = np.sqrt(self.m2 / (self.count - 1) / self.count) if self.count > 1 \
            else np.full(length, np.nan)
        return Summary(np.asarray(self.mean), stderr, self.count)


def simulate(objective: Objective, optimizer: MLA, T: int, replicates: int | Sequence[int] = 1,
             oracle: Oracle | None = None, x0: ArrayLike | None = None, *, seed: int = 0, keep: str = "records",
             trajectory: bool = False, record_loss: bool = True, chunk: int | None = None,
             block: int | None = None, progress: bool | None = None,
             seeds: int | Sequence[int] | None = None) -> SimulationResult:
    """Run ``optimizer`` on ``objective`` for T top-level iterations, over many replicates.

    Parameters
    ----------
    objective : Objective
    optimizer : MLA
    T : int
        Number of top-level iterations (>= 1); each makes ``optimizer.K`` oracle calls.
    replicates : int or sequence of int
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
    record_loss : bool
        Compute f(phi_t) (default). False skips it, which is most of a record's cost on a finite
        sum besides the gradient (a log or exp per component); ``loss`` is then NaN with count 0
        and ``loss_records`` None, and a replicate is stopped as diverged when its gradient norm
        turns non-finite (f overflowing first no longer stops it). Everything else is the same,
        bit for bit.
    chunk, block : int, optional
        Replicates per kernel call and iterations per kernel call (results do not depend on them).
    progress : bool, optional
        Show a progress bar on stderr (default: only for long runs, on a terminal).
    seeds : int or sequence of int, optional
        Deprecated name of ``replicates``.
    """
    if not isinstance(objective, Objective):
        raise ValueError(f"objective must be an mla_numeric Objective, got {type(objective).__name__}")
    if not isinstance(optimizer, MLA):
        raise ValueError(f"optimizer must be an mla_numeric.MLA, got {type(optimizer).__name__}")
    if seeds is not None:
        warnings.warn("simulate(seeds=...) is deprecated: use replicates=", DeprecationWarning, stacklevel=2)
        replicates = seeds
    T = check_positive("T", T, integer=True)
    indices = _replicate_indices(replicates)
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
    if not isinstance(record_loss, bool):
        raise ValueError(f"record_loss must be True or False, got {record_loss!r}")
    if trajectory and keep != "records":
        raise ValueError("trajectory=True needs keep='records'")
    R = len(indices)
    chunk = (R if keep == "records" else min(R, 64)) if chunk is None else check_positive("chunk", chunk, integer=True)
    block = max(1, -(-T // 20)) if block is None else check_positive("block", block, integer=True)

    f0, g0 = objective.f(x0), objective.gradient(x0)
    if not (math.isfinite(f0) and np.all(np.isfinite(g0))):
        raise ValueError("f or grad f is not finite at x0")
    optimizer_args = (optimizer.ks, optimizer.alphas, optimizer.lr)
    m = max(objective.m, 1)
    noise_scale = oracle.noise_scale(d)
    noise_scale = noise_scale if np.any(noise_scale) else np.zeros(0)
    orders = oracle.check(indices, m) if oracle.kind == PRESCRIBED else np.zeros((R, 0), dtype=np.int64)
    keys = stream_keys(seed, indices)
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
            loss = np.empty((size, T + 1 if record_loss else 0))
            grad_norm_sq = np.empty((size, T + 1))
            traj = np.empty((size, T + 1 if trajectory else 0, d))
            loss[:, :1], grad_norm_sq[:, 0] = f0, float(g0 @ g0)
            if trajectory:
                traj[:, 0] = x0
            for t in range(0, T, block):
                stop = min(t + block, T)
                _advance(functions, objective.data, optimizer_args,
                         (oracle.kind, noise_scale, m, orders[rows]), keys[rows], state, calls,
                         diverged_at, loss, grad_norm_sq, traj, t, stop - t)
                bar.update(size * (stop - t))
            alive = diverged_at < 0
            diverged += [Divergence(int(indices[start + i]), int(seed), int(diverged_at[i]))
                         for i in np.flatnonzero(~alive)]
            everyone = bool(alive.all())  # then no copies of the records
            if record_loss:
                loss_moments.add(loss if everyone else loss[alive])
            live = grad_norm_sq if everyone else grad_norm_sq[alive]
            grad_moments.add(live)
            averages[rows] = np.nan
            averages[rows][alive] = live[:, :T].mean(axis=1)
            finals.append(state[:, -1])
            if keep == "records" and record_loss:
                loss_rows.append(loss)
            if keep == "records":
                grad_rows.append(grad_norm_sq)
                traj_rows.append(traj)
    if diverged:
        first = diverged[0]
        warnings.warn(f"{len(diverged)} of {R} replicates diverged (first: replicate {first.replicate} "
                      f"of seed {first.seed} at iteration {first.step}); the summaries exclude them",
                      DivergenceWarning, stacklevel=2)
    config = {"objective": objective.to_dict(), "optimizer": optimizer.to_dict(),
              "oracle": oracle.to_dict(d), "T": T, "seed": int(seed),
              "replicates": indices.tolist(), "x0": x0.tolist(),
              "package": {"name": "mla-numeric", "version": __version__}}
    records = keep == "records"
    nan = np.full(T + 1, np.nan)
    return SimulationResult(
        config=config, replicates=indices,
        loss=loss_moments.summary(T + 1) if record_loss else Summary(nan, nan.copy(), 0),
        grad_norm_sq=grad_moments.summary(T + 1),
        average_grad_norm_sq=averages, diverged=diverged, final=np.concatenate(finals),
        loss_records=np.concatenate(loss_rows) if records and record_loss else None,
        grad_norm_sq_records=np.concatenate(grad_rows) if records else None,
        trajectory=np.concatenate(traj_rows) if trajectory else None)


def _replicate_indices(replicates: int | Sequence[int]) -> IntArray:
    if isinstance(replicates, numbers.Integral) and not isinstance(replicates, bool):
        return np.arange(check_positive("replicates", replicates, integer=True))
    message = f"replicates must be a number of replicates >= 1 or a non-empty list of distinct " \
              f"replicate indices in [0, 2**63), got {replicates!r}"
    try:
        items = list(replicates)  # type: ignore[arg-type]  # an int was handled above; anything else is checked here
    except TypeError:
        raise ValueError(message) from None
    if not items or not all(isinstance(r, numbers.Integral) and not isinstance(r, bool) for r in items):
        raise ValueError(message)
    replicates = [int(r) for r in items]
    if len(set(replicates)) != len(replicates) or not all(0 <= r < 2 ** 63 for r in replicates):
        raise ValueError(message)
    return np.array(replicates, dtype=np.int64)


def _json_list(values: FloatArray) -> list[float | None]:
    """Floats for JSON, with None where a value is not finite."""
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float)]
