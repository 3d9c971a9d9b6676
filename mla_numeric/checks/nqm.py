"""Claim C6: SGD, Lookahead and nested Lookahead on the noisy quadratic model (Zhang et al., 2019).

Claim: the steady-state expected loss is sum_i h_i V_i / 2 with V = S_n (h s)^2 / (1 - M_n^2)
(closed form, symbolic/nqm.py). Source: Zhang et al. (2019), Proposition 1 (n = 1), extended to
n layers. How it is decided: rule ``equality`` (below). Matched controls, in every row: the
prediction 5 % high and 5 % low (``RESOLUTION``, the stated resolution) must both be rejected by
the same interval, else a "holds" is inconclusive (no power); for Lookahead also the folklore
V_LA = alpha^2 V_SGD. Tests: the folklore prediction, and one inside the interval but off the exact
recurrence, fail; a run too small to resolve 5 % is inconclusive (tests/test_nqm.py). Example:
``group("nqm").run(group("nqm").preset("quick"))``.

Setting. The NQM's expected excess loss f(x) = 1/2 sum_i h_i x_i^2 with fresh gradient noise
N(0, (h_i s_i)^2) per coordinate and oracle call (objectives/nqm.py). Spectrum: h_i = s_i^2 = 1/i,
i = 1..d, d = 100 (``DIM``). Zhang et al. take h_i and s_i^2 proportional to 1/i; d = 100 is the
default of ``noisy_quadratic``: coordinate i adds at most about eta h_i^2 s_i^2 / 4 = eta / (4 i^3) to
the steady-state loss, so coordinates beyond 100 would add under 1e-4 of it (closed form at
d = 10^5), and a replicate stays cheap.
Learning rate eta = 0.8 (``LR``): eta h_i runs over [0.008, 0.8], from the small-step regime,
where every nesting acts like SGD with a smaller step, to large steps. Nestings (``NESTINGS``):
SGD, Lookahead (5, 0.5) and the paper's two-layer MLA (5, 0.5), (5, 0.5).

Theory (symbolic/nqm.py). Per coordinate the slow weights settle to a distribution with mean 0 and
variance V = S_n (h s)^2 / (1 - M_n^2), finite for 0 < eta h < 2; the steady-state expected loss is
sum_i h_i V_i / 2. At n = 1, V / V_SGD is Zhang et al.'s Proposition 1.

The same quantity is computed three ways:
- predicted: the sympy closed form (or an alternative ``prediction``, for negative controls);
- exact: the fixed point V = sum_j B_j^2 (h s)^2 / (1 - M^2) of the covariance recurrence
  C' = M C M + sum_j B_j^2 (h s)^2 of moments.py, with (M, B) from ``cycle_maps`` (no sympy);
- measured: Monte Carlo. R independent replicates start at x0 = 0 (the transient is then
  E f_t = f_inf - sum_i h_i V_i M_i^(2t) / 2), discard a burn-in of b iterations with
  max_i M_i^(2b) <= 1e-6, then average f(phi_t) over a window of W oracle calls. The per-replicate
  averages are independent (the time average within a replicate is autocorrelated and is never
  used as if it were not); the interval is Student t over them at level 1 - 0.01 / 3, so with the
  three nestings the family-wise failure probability is 1 % (Bonferroni, CLT approximation).

Verdict (a tight claim): holds when the predicted loss lies in the interval and the predicted
variances equal the exact fixed point to 1e-10 relative at every coordinate; fails otherwise.

Work units (``units``): each nesting's Monte Carlo by chunks of CHUNK replicates (replicate r draws from
the stream (seed, r), so the chunks concatenate to the run of all replicates), each nesting's exact
loss over time, the variance map.

Also (no verdict): ``loss_over_time``, the exact E f(phi_t) (quadratic_moments) from x0 = 1 over
2000 oracle calls, at eta = 0.8 for all and at each nesting's best eta of a grid (lowest E f at the
budget); ``variance_map``, V_LA / V_SGD, V_MLA / V_LA and the contraction per oracle call
|M_n|^(1/K) over eta h, k and alpha, from variance_ratio(n) and contraction(n).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

from .._typing import JSON, FloatArray, IntArray, Layers
from ..engine import simulate
from ..moments import cycle_maps, quadratic_moments
from ..objectives import noisy_quadratic, nqm_noise
from ..objectives.base import Objective
from ..oracles import GaussianNoise
from ..spec import MLA, check_positive, format_layers
from ..symbolic import Formula, contraction, layer_symbols, steady_state_variance, variance_ratio
from . import stats
from .group import CheckGroup, Claim, Document, Figure, Table, Work
from .result import CheckResult, equality_control, relative_resolution

__all__ = ["NESTINGS", "NQMMeasurement", "LossCurve", "VarianceMap", "predicted_variance",
           "exact_variance", "measure_nqm", "steady_state_chunk", "steady_state", "check_nqm", "loss_curve",
           "loss_over_time", "variance_map",
           "NQMPreset", "GROUP"]

NESTINGS: dict[str, Layers] = {"SGD": (), "Lookahead": ((5, 0.5),), "MLA": ((5, 0.5), (5, 0.5))}
DIM, LR = 100, 0.8
FAILURE_PROBABILITY = 0.01  # family-wise over the nestings of run_nqm_checks (Bonferroni)
TRANSIENT = 1e-6            # max_i M_i^(2b) after the burn-in of b iterations
EXACT_RTOL = 1e-10          # closed form against the recurrence's fixed point
RESOLUTION = 0.05           # the controls: the predicted loss this far off (relative) must be rejected
CHUNK = 16                  # replicates per simulator call and per work unit (bounds the records' memory)
BUDGET = 2000               # oracle calls of the loss-over-time comparison (a multiple of every K)
LR_GRID = np.geomspace(0.005, 1.95, 80)  # eta h_max = eta < 2: every optimizer has a steady state
C6 = Claim("C6", "Noisy quadratic model",
           "steady-state E f(phi) = sum_i h_i V_i / 2 with V = S_n (h s)^2 / (1 - M_n^2) "
           "(closed form; Proposition 1 at n = 1)",
           "Zhang et al. (2019), Proposition 1 (n = 1); mla_numeric.symbolic.nqm for any n", "equality",
           f"the closed-form steady-state loss against Monte Carlo (Student-t interval over independent "
           f"replicates, family-wise level {1 - FAILURE_PROBABILITY:.0%} over the nestings, Bonferroni) and the "
           f"exact moment recurrences; {stats.RULES['equality']}, and the closed form must equal the "
           f"recurrence's fixed point to {EXACT_RTOL:g} relative; control: the prediction {RESOLUTION:.0%} high and "
           f"{RESOLUTION:.0%} low, which must both fail")
# An alternative steady-state variance: a Formula in eta, h, s (and k_i, alpha_i), or (layers, lr, h, s) -> V
Prediction: TypeAlias = Formula | Callable[[Layers, float, FloatArray, FloatArray], ArrayLike]


def _check_steps(eta_h: ArrayLike, name: str) -> FloatArray:
    """ValueError unless every eta h lies in (0, 2), where SGD (hence every nesting) has a steady state."""
    eta_h = np.asarray(eta_h, dtype=float)
    if not np.all((eta_h > 0) & (eta_h < 2)):
        raise ValueError(f"{name} must lie in (0, 2), where the NQM has a steady state; "
                         f"got values in [{eta_h.min():g}, {eta_h.max():g}]")
    return eta_h


def _layer_values(layers: Iterable[tuple[int, float]]) -> dict[str, float]:
    return {name: value for i, (k, alpha) in enumerate(layers, start=1)
            for name, value in ((f"k_{i}", k), (f"alpha_{i}", alpha))}


def folklore_variance() -> Formula:
    """The folklore V_LA = alpha^2 V_SGD for one layer: a matched control that C6 must reject."""
    return Formula(layer_symbols(1)[0][1] ** 2 * steady_state_variance([]).expr, "alpha^2 V_SGD")


def predicted_variance(layers: Sequence[tuple[int, float]], lr: float, h: ArrayLike, s: ArrayLike,
                       prediction: Prediction | None = None) -> FloatArray:
    """Steady-state variance V_i per coordinate.

    ``prediction``: None for the closed form ``steady_state_variance(layers)``; a ``Formula`` in
    eta, h, s (and k_i, alpha_i); or a callable ``(layers, lr, h, s) -> V``.
    """
    h, s = np.asarray(h, dtype=float), np.asarray(s, dtype=float)
    if callable(prediction):
        value = prediction(MLA(layers, lr).layers, lr, h, s)
    else:
        formula = steady_state_variance(layers) if prediction is None else prediction
        value = formula.numpy(eta=lr, h=h, s=s, **_layer_values(layers))
    variance: FloatArray = np.broadcast_to(np.asarray(value, dtype=float), h.shape).copy()
    return variance


def _fixed_point(layers: Iterable[tuple[int, float]], lr: float, h: ArrayLike, s: ArrayLike
                 ) -> tuple[FloatArray, FloatArray]:
    """(M, V): the mean's contraction per iteration and the covariance recurrence's fixed point."""
    M, B = cycle_maps(np.asarray(h, dtype=float), MLA(layers, lr))
    return M, (B ** 2).sum(axis=0) * (np.asarray(h) * np.asarray(s)) ** 2 / (1 - M ** 2)


def exact_variance(layers: Iterable[tuple[int, float]], lr: float, h: ArrayLike, s: ArrayLike) -> FloatArray:
    """V = sum_j B_j^2 (h s)^2 / (1 - M^2), the fixed point of C' = M C M + sum_j B_j^2 (h s)^2."""
    return _fixed_point(layers, lr, h, s)[1]


@dataclass
class NQMMeasurement:
    """Monte Carlo steady-state loss of one nesting, with the exact reference."""

    name: str
    layers: Layers
    lr: float
    h: FloatArray
    s: FloatArray
    burn_in: int             # top-level iterations discarded
    window: int              # top-level iterations averaged
    averages: FloatArray     # (R,): per replicate, mean of f(phi_t) over the window
    final_sq: FloatArray     # (R, d): phi_T^2, unbiased samples of V_i (mean 0)
    exact: FloatArray        # (d,): fixed point of the covariance recurrence

    @property
    def mean(self) -> float:
        return float(self.averages.mean())

    @property
    def stderr(self) -> float:
        return float(self.averages.std(ddof=1) / math.sqrt(len(self.averages)))

    @property
    def exact_loss(self) -> float:
        return float(self.h @ self.exact / 2)

    def interval(self, failure_probability: float) -> tuple[float, float]:
        """Student-t interval over the replicates, two-sided, missing the truth with that probability."""
        low, high = stats.student_t_interval(self.averages, failure_probability)[2:]
        return float(low), float(high)

    def setting(self) -> JSON:
        optimizer = MLA(self.layers, self.lr)
        return {"objective": "nqm", "oracle": "gaussian", "layers": format_layers(self.layers),
                "nesting": self.name, "dim": len(self.h), "spectrum": "h_i = s_i^2 = 1/i",
                "lr": self.lr, "K": optimizer.K, "P": optimizer.P, "replicates": len(self.averages),
                "burn_in_iterations": self.burn_in, "window_iterations": self.window,
                "window_oracle_calls": self.window * optimizer.K, "x0": "0"}


def _plan(layers: Iterable[tuple[int, float]], lr: float, dim: int, calls: int
          ) -> tuple[Objective, GaussianNoise, MLA, int, int]:
    """(objective, oracle, optimizer, burn-in, window) of the steady-state run: a burn-in of b
    iterations with max_i M_i^(2b) <= 1e-6, then ``calls`` oracle calls (whole iterations)."""
    optimizer = MLA(layers, lr)
    calls = check_positive("calls", calls, integer=True)
    objective = noisy_quadratic(dim)
    h, s = np.array(objective.params["h"]), np.array(objective.params["s"])
    _check_steps(lr * h, "lr * h_i (eta h)")
    M, _ = _fixed_point(optimizer.layers, lr, h, s)
    burn_in = max(1, math.ceil(math.log(TRANSIENT) / (2 * math.log(np.max(np.abs(M))))))
    return objective, nqm_noise(objective), optimizer, burn_in, max(1, calls // optimizer.K)


def _check_replicates(replicates: object) -> int:
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 2:
        raise ValueError(f"replicates must be an integer >= 2 (the interval needs a sample variance), "
                         f"got {replicates!r}")
    return replicates


def steady_state_chunk(layers: Iterable[tuple[int, float]], lr: float, dim: int, calls: int,
                       replicates: Sequence[int], seed: int = 0,
                       progress: bool | None = None) -> tuple[FloatArray, FloatArray]:
    """(averages, final): for each replicate of ``replicates`` (indices) from x0 = 0, the mean of
    f(phi_t) over the window after the burn-in, and phi_T. A unit of the Monte Carlo: replicate r
    draws from the stream (seed, r), so chunks concatenate to the run of all replicates."""
    objective, oracle, optimizer, burn_in, window = _plan(layers, lr, dim, calls)
    run = simulate(objective, optimizer, burn_in + window, replicates, oracle, np.zeros(dim), seed=seed,
                   progress=progress)
    assert run.loss_records is not None  # simulate keeps records by default
    return run.loss_records[:, burn_in + 1:].mean(axis=1), run.final


def steady_state(name: str, layers: Iterable[tuple[int, float]], lr: float, dim: int, calls: int,
                 chunks: Sequence[tuple[FloatArray, FloatArray]]) -> NQMMeasurement:
    """The NQMMeasurement of ``steady_state_chunk`` results, concatenated in replicate order."""
    objective, _, optimizer, burn_in, window = _plan(layers, lr, dim, calls)
    h, s = np.array(objective.params["h"]), np.array(objective.params["s"])
    averages, finals = (np.concatenate(part) for part in zip(*chunks, strict=True))
    return NQMMeasurement(name, optimizer.layers, lr, h, s, burn_in, window, averages, finals ** 2,
                          exact_variance(optimizer.layers, lr, h, s))


def _chunks(replicates: int) -> list[range]:
    """Replicate indices in chunks of CHUNK (bounds the records' memory; one work unit each)."""
    return [range(start, min(start + CHUNK, replicates)) for start in range(0, replicates, CHUNK)]


def measure_nqm(name: str, layers: Sequence[tuple[int, float]], lr: float = LR, dim: int = DIM, calls: int = 100_000,
                replicates: int = 64, seed: int = 0,
                progress: bool | None = None) -> NQMMeasurement:
    """Run R replicates from x0 = 0: a burn-in with max_i M_i^(2b) <= 1e-6, then ``calls`` oracle calls
    whose f(phi_t) are averaged per replicate."""
    chunks = [steady_state_chunk(layers, lr, dim, calls, chunk, seed, progress)
              for chunk in _chunks(_check_replicates(replicates))]
    return steady_state(name, layers, lr, dim, calls, chunks)


def check_nqm(measurement: NQMMeasurement, prediction: Prediction | None = None,
              failure_probability: float = stats.bonferroni(FAILURE_PROBABILITY, len(NESTINGS))) -> CheckResult:
    """C6: the predicted steady-state loss sum_i h_i V_i / 2 against Monte Carlo and the exact recurrence.

    ``prediction`` as in ``predicted_variance`` (None: the closed form); ``failure_probability``
    is the chance that the interval misses the true loss.
    """
    if not 0 < failure_probability < 1:
        raise ValueError(f"failure_probability must lie in (0, 1), got {failure_probability!r}")
    m = measurement
    variance = predicted_variance(m.layers, m.lr, m.h, m.s, prediction)
    predicted = float(m.h @ variance / 2)
    low, high = m.interval(failure_probability)
    deviation = float(np.max(np.abs(variance - m.exact) / m.exact))
    verdict = stats.equality_verdict(predicted, low, high) if deviation <= EXACT_RTOL else "fails"
    resolution = relative_resolution("the steady-state loss", predicted, (low, high))
    controls = [equality_control(f"the prediction {RESOLUTION:.0%} {side}, the stated resolution",
                                 predicted * (1 + sign * RESOLUTION), m.mean, (low, high))
                for side, sign in (("high", 1), ("low", -1))]
    if len(m.layers) == 1:
        folklore = float(m.h @ predicted_variance(m.layers, m.lr, m.h, m.s, folklore_variance()) / 2)
        controls.append(equality_control("the folklore V_LA = alpha^2 V_SGD", folklore, m.mean, (low, high)))
    setting = {**m.setting(), "prediction": "closed form" if prediction is None else "alternative",
               "failure_probability": failure_probability, "exact_loss": m.exact_loss,
               "max_relative_deviation_from_recurrence": deviation, "exact_rtol": EXACT_RTOL,
               "stderr": m.stderr}
    return CheckResult(claim=C6.id, statement=C6.statement, source=C6.source, setting=setting,
                       predicted=predicted, kind=C6.kind, measured=m.mean,
                       interval=(float(low), float(high)), verdict=verdict, control=controls,
                       resolution=resolution)


@dataclass
class LossCurve:
    """Exact E f(phi_t) of one nesting from the moment recurrences, against oracle calls t K."""

    name: str
    layers: Layers
    calls: IntArray           # (T+1,)
    matched: FloatArray       # (T+1,): at the matched learning rate
    floor: float              # closed-form steady-state loss at the matched learning rate
    best_lr: float            # lowest E f at the budget over LR_GRID
    best: FloatArray          # (T+1,): at best_lr
    final_by_lr: FloatArray   # (len(LR_GRID),): E f at the budget for each grid learning rate


def loss_curve(name: str, layers: Sequence[tuple[int, float]], budget: int = BUDGET, lr: float = LR,
               lrs: ArrayLike = LR_GRID, dim: int = DIM, start: float = 1.0) -> LossCurve:
    """Exact expected loss of one nesting over ``budget`` oracle calls from x0 = ``start`` (all
    coordinates), at the matched ``lr`` and at the best learning rate of ``lrs``."""
    objective = noisy_quadratic(dim)
    oracle = nqm_noise(objective)
    h, s = np.array(objective.params["h"]), np.array(objective.params["s"])
    lrs = np.asarray(lrs, dtype=float)
    _check_steps(np.outer(np.append(lrs, lr), h), "lr * h_i (eta h) for lr and every grid lr")
    x0 = np.full(dim, float(start))
    T = budget // MLA(layers).K
    if T < 1:
        raise ValueError(f"budget must be at least K = {MLA(layers).K} oracle calls, got {budget}")
    grid = [quadratic_moments(objective, MLA(layers, eta), T, oracle, x0).loss for eta in lrs]
    final = np.array([loss[-1] for loss in grid])
    best = int(np.argmin(final))
    floor = float(h @ predicted_variance(layers, lr, h, s) / 2)
    return LossCurve(name, MLA(layers).layers, np.arange(T + 1) * MLA(layers).K,
                     quadratic_moments(objective, MLA(layers, lr), T, oracle, x0).loss,
                     floor, float(lrs[best]), grid[best], final)


def loss_over_time(budget: int = BUDGET, lr: float = LR, lrs: ArrayLike = LR_GRID, dim: int = DIM,
                   start: float = 1.0) -> list[LossCurve]:
    """``loss_curve`` for each nesting of NESTINGS."""
    return [loss_curve(name, layers, budget, lr, lrs, dim, start) for name, layers in NESTINGS.items()]


@dataclass
class VarianceMap:
    """V_LA / V_SGD, V_MLA / V_LA and the contraction per oracle call |M_n|^(1/K) on a grid.

    Every array has shape (len(ks), len(alphas), len(eta_h)); Lookahead is (k, alpha) and MLA
    (k, alpha), (k, alpha), all at the same inner eta.
    """

    eta_h: FloatArray
    ks: IntArray | FloatArray  # integers, as given
    alphas: FloatArray
    la_over_sgd: FloatArray
    mla_over_la: FloatArray
    per_call: dict[str, FloatArray]  # nesting name -> |M_n|^(1/K)


MAP_ETA_H = np.linspace(0.02, 1.98, 99)
MAP_KS = (2, 5, 10)
MAP_ALPHAS = np.arange(1, 21) / 20


def variance_map(eta_h: ArrayLike = MAP_ETA_H, ks: ArrayLike = MAP_KS, alphas: ArrayLike = MAP_ALPHAS) -> VarianceMap:
    """Evaluate variance_ratio(n) (V_n / V_SGD in beta = 1 - eta h) and contraction(n) on the grid."""
    eta_h = _check_steps(eta_h, "eta_h")
    ks = np.asarray(ks)
    alphas = np.asarray(alphas, dtype=float)
    if not (np.all(ks >= 1) and np.all(ks == np.round(ks))):
        raise ValueError(f"ks must be integers >= 1, got {ks.tolist()}")
    if not np.all((alphas > 0) & (alphas <= 1)):
        raise ValueError(f"alphas must lie in (0, 1], got {alphas.tolist()}")
    k, alpha, e = np.meshgrid(ks.astype(float), alphas, eta_h, indexing="ij")
    values = {"beta": 1 - e, "k_1": k, "k_2": k, "alpha_1": alpha, "alpha_2": alpha}
    ratio = {n: variance_ratio(n).numpy(**values) for n in (1, 2)}
    # contraction(n).numpy keeps M^k where 1 - alpha + alpha M^k would lose it (alpha = 1: beta^K,
    # not 0), which the K-th root would magnify (tests/test_nqm.py)
    per_call = {name: np.abs(contraction(len(layers)).numpy(**values)) ** (1 / k ** len(layers))
                for name, layers in NESTINGS.items()}
    return VarianceMap(eta_h, ks, alphas, ratio[1], ratio[2] / ratio[1], per_call)


# ---- the group: `mla-check nqm`, the report, simulations/noisy_quadratic.py ----------------------

@dataclass(frozen=True)
class NQMPreset:
    """Averaging window in oracle calls and replicates; the model's dimension, eta and nestings."""

    window_calls: int
    replicates: int
    dim: int = DIM
    lr: float = LR
    nestings: tuple[tuple[str, Layers], ...] = tuple(NESTINGS.items())


PRESETS = {"quick": NQMPreset(20_000, 16), "default": NQMPreset(100_000, 64), "full": NQMPreset(400_000, 256)}


@dataclass
class NQMData:
    measurements: list[NQMMeasurement]
    curves: list[LossCurve]
    vmap: VarianceMap


# Work units, (kind, arguments of UNITS[kind]...), and their results
SteadyStateUnit: TypeAlias = tuple[Literal["steady state"], Layers, float, int, int, range, int]
LossCurveUnit: TypeAlias = tuple[Literal["loss curve"], str, Layers, int, float, FloatArray, int]
Unit: TypeAlias = SteadyStateUnit | LossCurveUnit | tuple[Literal["variance map"]]
UnitResult: TypeAlias = tuple[FloatArray, FloatArray] | LossCurve | VarianceMap


def units(preset: NQMPreset, seed: int = 0) -> list[Unit]:
    """Work units: each nesting's Monte Carlo by chunks of CHUNK replicates, each nesting's exact loss
    over time, the variance map."""
    _check_replicates(preset.replicates)
    steady: list[Unit] = [("steady state", layers, preset.lr, preset.dim, preset.window_calls, chunk, seed)
                          for _, layers in preset.nestings for chunk in _chunks(preset.replicates)]
    curves: list[Unit] = [("loss curve", name, layers, BUDGET, preset.lr, LR_GRID, preset.dim)
                          for name, layers in NESTINGS.items()]
    return steady + curves + [("variance map",)]


UNITS: dict[str, Callable[..., Any]] = {"steady state": steady_state_chunk, "loss curve": loss_curve,
                                        "variance map": variance_map}


def run_unit(unit: Unit) -> UnitResult:
    """One unit of ``units``: (kind, arguments...)."""
    result: UnitResult = UNITS[unit[0]](*unit[1:])
    return result


def combine(preset: NQMPreset, seed: int, results: list[Any]) -> NQMData:
    """The units' results, in unit order, as NQMData: the chunks concatenated in replicate order."""
    per = len(_chunks(preset.replicates))
    measurements = [steady_state(name, layers, preset.lr, preset.dim, preset.window_calls,
                                 results[i * per:(i + 1) * per]) for i, (name, layers) in enumerate(preset.nestings)]
    return NQMData(measurements, results[len(measurements) * per:-1], results[-1])


measure = Work(units, run_unit, combine)  # measure(preset, seed, progress) -> NQMData


def judge(data: NQMData) -> list[CheckResult]:
    return [check_nqm(m, failure_probability=stats.bonferroni(FAILURE_PROBABILITY, len(data.measurements)))
            for m in data.measurements]


def artifacts(data: NQMData, results: list[CheckResult]) -> list[Figure | Table | Document]:
    """Figures of the steady state, the loss over time and the variance map, with their CSV; one JSON."""
    from ..plotting import loss_over_time_figure, steady_state_figure, variance_map_figure

    measurements, curves, vmap = data.measurements, data.curves, data.vmap
    lr, dim = measurements[0].lr, len(measurements[0].h)
    closed_forms = [predicted_variance(m.layers, m.lr, m.h, m.s) for m in measurements]
    rows: list[list[Any]] = []
    for m, closed in zip(measurements, closed_forms, strict=True):
        stderr = m.final_sq.std(axis=0, ddof=1) / math.sqrt(len(m.final_sq))
        rows += [[m.name, format_layers(m.layers), i + 1, m.h[i], m.s[i], closed[i], m.exact[i],
                  m.final_sq[:, i].mean(), stderr[i]] for i in range(len(m.h))]
    columns = [axis.ravel() for axis in np.meshgrid(vmap.ks, vmap.alphas, vmap.eta_h, indexing="ij")]
    columns += [vmap.la_over_sgd.ravel(), vmap.mla_over_la.ravel()] + [vmap.per_call[n].ravel() for n in NESTINGS]
    figures = [Figure("nqm_steady_state.png", lambda path: steady_state_figure(measurements, closed_forms, path)),
               Figure("nqm_loss_over_time.png", lambda path: loss_over_time_figure(
                   curves, lr, BUDGET, f"Noisy quadratic model, h_i = s_i^2 = 1/i, d = {dim}, x0 = 1", path)),
               Figure("nqm_variance_map.png", lambda path: variance_map_figure(vmap, path))]
    tables = [Table("nqm_steady_state.csv", ("nesting", "layers", "i", "h", "s", "V_closed_form", "V_recurrence",
                                             "V_monte_carlo", "V_monte_carlo_stderr"), rows),
              Table("nqm_loss_over_time.csv", ("nesting", "layers", "framing", "lr", "oracle_calls", "expected_loss"),
                    [[c.name, format_layers(c.layers), framing, eta, int(n), value]
                     for c in curves
                     for framing, eta, values in (("matched", lr, c.matched), ("best", c.best_lr, c.best))
                     for n, value in zip(c.calls, values, strict=True)]),
              Table("nqm_lr_grid.csv", ("nesting", "layers", "lr", "expected_loss_at_budget"),
                    [[c.name, format_layers(c.layers), eta, value] for c in curves
                     for eta, value in zip(LR_GRID, c.final_by_lr, strict=True)]),
              Table("nqm_variance_map.csv", ("k", "alpha", "eta_h", "V_LA_over_V_SGD", "V_MLA_over_V_LA")
                    + tuple(f"per_call_{name}" for name in NESTINGS), list(zip(*columns, strict=True)))]
    for check in results:
        check.figures = [figure.name for figure in figures]
        check.data = [table.name for table in tables] + ["nqm.json"]
    summary = {"checks": results,
               "loss_over_time": {"budget_oracle_calls": BUDGET, "matched_lr": lr, "x0": 1.0,
                                  "best_lr": {c.name: c.best_lr for c in curves},
                                  "loss_at_budget_matched": {c.name: float(c.matched[-1]) for c in curves},
                                  "loss_at_budget_best": {c.name: float(c.best[-1]) for c in curves},
                                  "steady_state_matched": {c.name: c.floor for c in curves}}}
    return figures + tables + [Document("nqm.json", summary)]


GROUP = CheckGroup(
    name="nqm", claims=(C6,), presets=PRESETS, measure=measure, judge=judge, artifacts=artifacts, cost=8.0,
    summary="claim C6: the noisy quadratic model's steady state, loss over time, variance map",
    description="Compare the derived steady-state loss of SGD, Lookahead and two-layer MLA on Zhang et al.'s noisy "
                "quadratic model (h_i = s_i^2 = 1/i, d = 100) with the exact moment recurrences and Monte Carlo; "
                "plot the exact expected loss against oracle calls and map the variance reduction and its cost in "
                "convergence speed.",
    full_help="a 400000-call window and 256 replicates")
