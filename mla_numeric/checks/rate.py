"""Claims C1 and C2: the O(1/sqrt(T)) stationarity rate and the explicit bound, with matched controls.

Setting
    f L-smooth with f >= f_low; an oracle with E||G - grad f||^2 <= sigma^2 (Gaussian noise, or
    minibatches drawn with replacement from a finite sum with a proven ``variance_bound``). The
    nesting checked, one-layer Lookahead (5, 0.5) and SGD run at equal oracle calls and at one
    effective learning rate: eta P = e at the first T of each sweep, e = ``STEP_FRACTION`` x the
    smallest eta_max P of the three (eta_max: the largest eta of the step condition
    2 L eta P K + L^2 eta^2 K (K-1) <= 1), so the step condition holds for each at every T, and at
    equal calls the three share their transient and their noise floor. Per replicate r,
    A_r(T) = (1/T) sum_{t<T} ||grad f(phi_t)||^2 at the slow weights; A(T) is their mean. Two
    sweeps, both with eta = c / sqrt(T): the *bound sweep* (the preset's T's, from a few tens of
    cycles) and the *C1 window* (below), where the controls also run. The nesting runs both at
    every size; Lookahead and SGD run the bound sweep, and the window only when the preset's
    ``reference_windows`` is set (full: yes; quick and default: no). Why: the paper's claim (P1)
    is about the nesting, the Lookahead and SGD rates are reference theorems (Wang et al.;
    Ghadimi & Lan), and their windows were most of the check's cost. At equal oracle calls the
    engine records ||grad f(phi_t)||^2 (a full gradient, of every component of a finite sum) once
    per cycle: 25 times as often per call for SGD (K = 1) and 5 times for Lookahead (K = 5) as
    for 5:0.5,5:0.5 (K = 25); f is not computed (``record_loss=False``). Measured per work unit
    (one optimizer's sweeps, window included) at the full size, in seconds, nesting / Lookahead /
    SGD: 19 / 30 / 95 on robust regression with minibatches, 46 / 46 / 57 on logistic with
    Gaussian noise (a full gradient, an exp per component, at every oracle call); without their
    windows Lookahead and SGD take 0.1 to 0.7 s a unit at the default size. Objectives:
    ``default_objectives`` (the wells are shallow there, see why).
Claim
    C1: A(T) decays at least like T^(-1/2). C2: A(T) <= 2 Delta / (eta P K T) + 2 L eta P sigma^2
    + L^2 eta^2 (K - 1) sigma^2.
Source
    C1, by depth: SGD Ghadimi & Lan (2013), Corollary 2.2; n = 1 Wang et al. (2020); n = 2
    Pushkin & Barba (2021); n >= 3 theory/convergence.md, (20). C2: theory/convergence.md (2).
How it is decided
    The asymptotics (theory/convergence.md, section 9). Past a transient, a run at a constant
    eta sums sum_t ||grad f(phi_t)||^2 ~ Delta* / (eta P K) (gradient flow for a time eta P K
    per cycle, Delta* = f(x0) - f(x*)) and then sits at the noise floor
    F(eta) = eta P tr(H* Sigma*) / 2 (H* the Hessian at the minimiser x* reached, Sigma* the
    oracle's covariance there), so A(T) ~ Delta* / (eta P K T) + F(eta): with eta = c / sqrt(T)
    both terms fall like T^(-1/2) at every T, and the ratio of the two stays T* / T_1, where
    T* = 2 Delta* / (e^2 K tr(H* Sigma*)) is the crossover of the constant-eta run at the first
    rate e (T_1: the sweep's first T). A constant eta has slope -1 below T* and 0 above it;
    eta ~ T^(-1/4) has -3/4 and -1/4. Hence the C1 window starts at
    T_1 = max(rho T*, kappa tau), tau = 1 / (e K mu*) the slow weights' relaxation time (mu* the
    smallest eigenvalue of H*), and spans a factor W in ``points`` geometric steps (the preset's
    floor_multiple, relaxation_multiple, span, points; quick and default: 2.5, 30, 4, 2): rho puts
    the controls on their floor (at rho = 2.5 and W = 4 this model predicts slopes -0.17 and -0.36 for them),
    kappa tau gives each replicate's average enough independent stretches for a precise slope.
    x*, H*, Sigma* come from a noiseless run of the nesting from x0. In cycles of 5:0.5,5:0.5 at
    sigma = 1 this gives T* = 430 (quadratic), 1470 and 9300 (robust regression, Gaussian and
    minibatch), 205 and 1590 (logistic), 2600 (wells); windows from 1079 to 92996 cycles.
    C1 (rule ``rate``): the least-squares slope of log A(T) on log T over the window, with the
    replicate (delta-method) Student-t 95 % interval of ``stats.replicate_slope_interval``; the
    limit is -1/2 + ``TOLERANCE``. "holds" when the upper limit is at most the limit. The claim
    is asymptotic, so a decay surely slower than the limit "fails" only when the measured decay
    crosses the explicit bound within the window (some lower limit of A(T) above the bound); a
    slower decay below the bound is "inconclusive: pre-asymptotic". A C1 row for each optimizer
    whose window ran (the nesting always; Lookahead and SGD with ``reference_windows``). Matched
    controls, same window, replicates and first learning rate: a constant eta and
    eta ~ T^(-1/4); each is rejected when its slope's lower limit is above the limit.
    Resolution: the smallest slope excess over -1/2 this run would reject (``TOLERANCE`` plus
    the interval's lower half-width).
    C2 (rule ``bound``): Student-t limits (Hall's skewness correction) per T at family-wise
    level 95 % (Bonferroni over the T's of the sweeps judged: the bound sweep and, where it ran,
    the C1 window; an optimizer without a window is judged, and its family counted, on its bound
    sweep alone). Matched control: the bound divided by ``DETECTED_FACTOR``, which must be
    rejected (its "fails"). Resolution: the smallest factor F with bound / F rejected in this
    run, min over T of bound / (lower limit). The bound sweep is
    transient-dominated, where the bound is 2 to 11 times A(T) on the default objectives; on the
    nesting's C1 windows the bound's noise terms (sigma^2 with L in place of tr(H* Sigma*)) put it
    6 to 250 times above A(T), which alone would leave the factor-10 control unrejected.
    Quadratics with Gaussian noise also get A(T) exactly (moments.py).
Negative control
    The controls above run in every setting. Judged as if it were the measurement, the
    constant-eta sweep is never "holds" (tests/test_rate.py).
Example
    >>> from mla_numeric.checks.registry import group
    >>> rate = group("rate")
    >>> data, results = rate.run(rate.preset("quick", objectives=("quadratic",)))  # doctest: +SKIP
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from .._typing import JSON, FloatArray, IntArray, Layers
from ..engine import simulate
from ..moments import quadratic_moments
from ..objectives import diagonal_quadratic, logistic_nonconvex, robust_regression, separable_wells
from ..objectives.base import Objective
from ..oracles import GAUSSIAN, REPLACEMENT, GaussianNoise, Oracle, WithReplacement
from ..spec import MLA, format_layers, parse_layers
from ..symbolic import convergence_bound, max_lr
from . import stats
from .group import CheckGroup, Claim, Document, Figure, Option, Table, Work, one_of
from .result import CheckResult, Control, Resolution

__all__ = ["RateSweep", "Window", "RatePreset", "rate_sweep", "rate_window", "effective_lr", "check_rate",
           "check_bound", "outside_premise", "oracle_variance", "theorem", "GROUP"]

TOLERANCE = 0.05            # C1 holds when the slope's upper limit is at most -1/2 + TOLERANCE
FAILURE_PROBABILITY = 0.05  # of each slope interval; family-wise over a row's T's for the C2 limits
DETECTED_FACTOR = 10.0      # C2's control: the bound divided by this must be rejected
STEP_FRACTION = 0.9         # eta P at a sweep's first T, as a fraction of the smallest eta_max P
SCHEDULES = {"c/sqrt(T)": 0.5, "constant": 0.0, "T^(-1/4)": 0.25}  # eta(T) = eta(T_1) (T_1 / T)^p
CONTROLS = ("constant", "T^(-1/4)")  # C1's matched controls
THEOREMS = {0: "Ghadimi & Lan (2013), SIAM J. Optim. 23(4), Corollary 2.2 (SGD, non-convex)",
            1: "Wang et al. (2020), Lookahead converges to stationary points of smooth non-convex functions",
            2: "Pushkin & Barba (2021), Multilayer Lookahead, convergence of two-layer MLA"}
C1 = Claim("C1", "Rate O(1/sqrt(T))",
           "(1/T) sum_{t<T} E||grad f(phi_t)||^2 decays at least like T^(-1/2) with eta = c / sqrt(T)",
           "by depth: SGD Ghadimi & Lan (2013); n = 1 Wang et al. (2020); n = 2 Pushkin & Barba (2021); "
           "n >= 3 theory/convergence.md", "rate",
           f"the log-log slope over a window of T that starts past the crossover T* of the constant-eta run "
           f"to its noise floor and after many relaxation times (the preset's floor_multiple and "
           f"relaxation_multiple), with a replicate Student-t {1 - FAILURE_PROBABILITY:.0%} interval; holds "
           f"when its upper limit is at most -1/2 + {TOLERANCE:g}; a slope surely above that fails only when "
           f"the measured average surely crosses the explicit bound (C2) within the window, else it is "
           f"inconclusive (pre-asymptotic). Matched controls, same window, replicates and first eta: a "
           f"constant eta and eta ~ T^(-1/4), each rejected when its slope's lower limit is above "
           f"-1/2 + {TOLERANCE:g}; resolution: the smallest slope excess over -1/2 the run rejects")
C2 = Claim("C2", "Explicit convergence bound, any depth",
           "(1/T) sum_{t<T} E||grad f(phi_t)||^2 <= 2 Delta/(eta P K T) + 2 L eta P sigma^2 "
           "+ L^2 eta^2 (K-1) sigma^2 when 2 L eta P K + L^2 eta^2 K (K-1) <= 1",
           "theory/convergence.md (claim C2 of THEORY.md)", "bound",
           f"Student-t limits per T at family-wise level {1 - FAILURE_PROBABILITY:.0%} (Bonferroni over "
           f"the T's of the bound sweep and, where it ran, the C1 window); {stats.RULES['bound']}. Matched "
           f"control: the bound divided by {DETECTED_FACTOR:g}, which must fail; resolution: the smallest factor F "
           f"such that bound / F fails in this run")


def theorem(layers: Sequence[tuple[int, float]]) -> str:
    """The theorem that gives the O(1/sqrt(T)) rate at this depth."""
    return THEOREMS.get(len(layers), "theory/convergence.md, (20) (the C2 bound with eta = c / sqrt(T))")


@dataclass
class RateSweep:
    """Per-replicate averages A_r(T) over a sweep of T, with everything needed to judge them."""

    objective: Objective
    layers: Layers
    oracle_name: str
    schedule: str              # a key of SCHEDULES
    Ts: IntArray
    lrs: FloatArray
    averages: FloatArray       # (R, len(Ts)): A_r(T)
    minima: FloatArray         # (len(Ts),): min_{t <= T} of the mean of ||grad f(phi_t)||^2
    bounds: FloatArray         # (len(Ts),): the C2 bound at (eta, T)
    sigma: float
    delta: float
    exact: FloatArray | None   # (len(Ts),): A(T) from the moment recurrences (quadratics)

    @property
    def mean(self) -> FloatArray:
        mean: FloatArray = self.averages.mean(axis=0)
        return mean

    @property
    def stderr(self) -> FloatArray:
        stderr: FloatArray = self.averages.std(axis=0, ddof=1) / math.sqrt(len(self.averages))
        return stderr

    @property
    def calls(self) -> IntArray:
        """Oracle calls per replicate at each T (T K)."""
        return self.Ts * MLA(self.layers).K

    def limits(self, count: int | None = None) -> tuple[FloatArray, FloatArray]:
        """(lower, upper): Student-t limits of A(T) at each T, family-wise 95 % over ``count``
        intervals (Bonferroni; default: this sweep's T's)."""
        each = stats.bonferroni(FAILURE_PROBABILITY, count or len(self.Ts))
        _, _, lower, upper = stats.student_t_interval(self.averages, each)
        return np.asarray(lower), np.asarray(upper)

    def slope(self) -> tuple[float, float, float]:
        """(slope, low, high) of log A(T) on log T, with the replicate Student-t interval."""
        slope, low, high = stats.replicate_slope_interval(self.Ts, self.averages, FAILURE_PROBABILITY)
        return slope, low, high

    def exact_agrees(self) -> bool:
        """The exact A(T) within the Monte Carlo limits at every T."""
        if self.exact is None:
            raise ValueError("this sweep has no exact A(T) (quadratics with Gaussian noise only)")
        lower, upper = self.limits()
        return bool(np.all((lower <= self.exact) & (self.exact <= upper)))

    def setting(self) -> JSON:
        optimizer = MLA(self.layers)
        return {"objective": self.objective.name, "dim": self.objective.dim, "L": self.objective.L,
                "layers": format_layers(self.layers), "K": optimizer.K, "P": optimizer.P,
                "oracle": self.oracle_name, "sigma": self.sigma, "Delta": self.delta, "schedule": self.schedule,
                "T": self.Ts.tolist(), "lr": self.lrs.tolist(), "replicates": len(self.averages)}


def oracle_variance(objective: Objective, oracle: Oracle) -> float:
    """sigma with E||G - grad f||^2 <= sigma^2 for every x, or ValueError when none is proven."""
    if oracle.kind == GAUSSIAN:
        return float(np.sqrt(np.sum(oracle.noise_scale(objective.dim) ** 2)))
    if oracle.kind == REPLACEMENT and objective.variance_bound is not None:
        return math.sqrt(objective.variance_bound)
    raise ValueError(f"no proven sigma for oracle {oracle.name!r} on {objective.name!r}: use gaussian noise, "
                     f"or with-replacement minibatches of an objective with a variance_bound")


def rate_sweep(objective: Objective, layers: Iterable[tuple[int, float]], oracle: Oracle, Ts: Iterable[int],
               replicates: int = 32, lr: float | None = None,
               schedule: str = "c/sqrt(T)", seed: int = 0, progress: bool | None = None,
               reuse: RateSweep | None = None) -> RateSweep:
    """Run T top-level iterations for each T of ``Ts`` at eta(T) = lr (T_1 / T)^p, T_1 = min T and
    p = SCHEDULES[schedule] (1/2: eta = c / sqrt(T)); ``lr`` defaults to STEP_FRACTION eta_max.
    ``reuse``: a sweep of the same objective, optimizer, oracle, replicates and seed, whose runs at
    an equal (T, eta) are taken instead of run again (they would be the same numbers)."""
    if objective.L is None:
        raise ValueError(f"the rate check needs a globally smooth objective; {objective.name!r} has no L "
                         f"({objective.L_reason})")
    Ts = np.array(sorted(Ts), dtype=np.int64)
    optimizer = MLA(layers, 1.0)
    sigma = oracle_variance(objective, oracle)
    x0 = objective.start()
    delta = objective.f(x0) - objective.f_low
    if lr is None:
        lr = STEP_FRACTION * max_lr(optimizer.K, optimizer.P, objective.L)
    lrs = lr * (Ts[0] / Ts) ** SCHEDULES[schedule]
    bounds = convergence_bound(optimizer.layers).numpy(eta=lrs, L=objective.L, sigma=sigma, Delta=delta, T=Ts)
    quadratic_exact = oracle.kind == GAUSSIAN and objective.params.get("family") in (
        "diagonal_quadratic", "dense_quadratic", "nqm")
    averages, minima, exact = [], [], []
    for T, eta in zip(Ts, lrs, strict=True):
        index = None if reuse is None else next(iter(np.flatnonzero((reuse.Ts == T) & (reuse.lrs == eta))), None)
        if reuse is not None and index is not None:
            averages.append(reuse.averages[:, index])
            minima.append(reuse.minima[index])
            exact += [] if reuse.exact is None else [reuse.exact[index]]
            continue
        optimizer_at_T = MLA(optimizer.layers, eta)
        run = simulate(objective, optimizer_at_T, int(T), replicates, oracle, x0, seed=seed,
                       keep="summary", record_loss=False, progress=progress)  # A(T) needs no f
        averages.append(run.average_grad_norm_sq)
        minima.append(np.min(run.grad_norm_sq.mean[:T]))
        if quadratic_exact:
            exact.append(quadratic_moments(objective, optimizer_at_T, int(T), oracle, x0).grad_norm_sq[:T].mean())
    return RateSweep(objective, optimizer.layers, oracle.name, schedule, Ts, lrs, np.array(averages).T,
                     np.array(minima), np.asarray(bounds, dtype=float), sigma, delta,
                     np.array(exact) if quadratic_exact else None)


# ---- the C1 window --------------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    """The C1 window of one objective and oracle, in top-level cycles of the nesting (module
    docstring): lr = e, delta = f(x0) - f(x*), floor = e tr(H* Sigma*) / 2,
    crossover T* = delta / (e K floor), relaxation tau = 1 / (e K mu*)."""

    lr: float
    delta: float
    floor: float
    crossover: float
    relaxation: float
    Ts: tuple[int, ...]


def effective_lr(objective: Objective, optimizers: Iterable[Iterable[tuple[int, float]]]) -> float:
    """e = STEP_FRACTION min_o eta_max(K_o, P_o, L) P_o: eta = e / P_o meets every step condition."""
    if objective.L is None:
        raise ValueError(f"the rate check needs a globally smooth objective; {objective.name!r} has no L")
    L = objective.L
    return STEP_FRACTION * min(max_lr(o.K, o.P, L) * o.P for o in (MLA(spec) for spec in optimizers))


def noise_covariance(objective: Objective, oracle: Oracle, x: FloatArray) -> FloatArray:
    """Sigma(x) = Cov(G(x, xi)): diag(scale^2) for Gaussian noise, the components' covariance
    (1/m) sum_a (grad f_a - grad f)(grad f_a - grad f)^T for minibatches with replacement."""
    oracle_variance(objective, oracle)  # raises where no sigma is proven
    if oracle.kind == GAUSSIAN:
        covariance: FloatArray = np.diag(oracle.noise_scale(objective.dim) ** 2)
        return covariance
    gradients = np.array([objective.component_gradient(x, a) for a in range(objective.m)])
    deviations = gradients - gradients.mean(axis=0)
    covariance = deviations.T @ deviations / objective.m
    return covariance


def minimiser(objective: Objective, optimizer: MLA, block: int = 1000, blocks: int = 100) -> FloatArray:
    """The point a noiseless run of ``optimizer`` from x0 reaches: ||grad f||^2 down by 1e-20."""
    x: FloatArray = objective.start()
    start = objective.gradient(x) @ objective.gradient(x)
    for _ in range(blocks):
        x = simulate(objective, optimizer, block, 1, GaussianNoise(0.0), x, keep="summary", progress=False).final[0]
        gradient = objective.gradient(x)
        if gradient @ gradient <= 1e-20 * start:
            return x
    raise ValueError(f"a noiseless run of {optimizer.describe()} on {objective.name!r} did not reach a "
                     f"stationary point in {block * blocks} cycles")


def rate_window(objective: Objective, oracle: Oracle, layers: Iterable[tuple[int, float]], lr: float,
                floor_multiple: float, relaxation_multiple: float, span: float, points: int) -> Window:
    """The C1 window: T_1 = max(floor_multiple T*, relaxation_multiple tau), T_1 .. span T_1 in
    ``points`` geometric steps (module docstring), for the nesting ``layers`` at eta P = ``lr``."""
    optimizer = MLA(layers, 1.0)
    x = minimiser(objective, MLA(optimizer.layers, lr / optimizer.P))
    hessian = np.array([objective.hessian_vector(x, e) for e in np.eye(objective.dim)])
    curvature = np.linalg.eigvalsh((hessian + hessian.T) / 2)[0]
    if curvature <= 0:
        raise ValueError(f"the noiseless run on {objective.name!r} ends at a point that is not a strict local "
                         f"minimum (smallest Hessian eigenvalue {curvature:.3g}): no noise floor to aim at")
    floor = lr * np.trace(hessian @ noise_covariance(objective, oracle, x)) / 2
    delta = objective.f(objective.start()) - objective.f(x)
    crossover = delta / (lr * optimizer.K * floor)
    relaxation = 1 / (lr * optimizer.K * curvature)
    first = max(floor_multiple * crossover, relaxation_multiple * relaxation, 1.0)
    Ts = np.unique(np.round(first * span ** np.linspace(0, 1, points)).astype(int))
    return Window(lr, float(delta), float(floor), float(crossover), float(relaxation), tuple(int(T) for T in Ts))


# ---- the verdicts ---------------------------------------------------------------------------

def check_rate(sweep: RateSweep, controls: Sequence[RateSweep] = (), tolerance: float = TOLERANCE) -> CheckResult:
    """C1 on ``sweep`` (eta = c / sqrt(T)), with ``controls`` (other schedules in the same window:
    the same T's, replicates and first eta). "inconclusive" for another schedule, or where eta
    breaks the step condition (the theorem's premise)."""
    if np.any(~np.isfinite(sweep.averages)):
        raise ValueError("some replicates diverged; the rate check needs every replicate finite")
    for control in controls:
        if not (np.array_equal(control.Ts, sweep.Ts) and len(control.averages) == len(sweep.averages)
                and control.lrs[0] == sweep.lrs[0]):
            raise ValueError("a matched control runs in the same window: the same T's, replicates and first eta")
    limit = -0.5 + tolerance
    measured, low, high = sweep.slope()
    verdict, note = stats.rate_verdict(low, high, limit), ""
    premise = (f"C1 is about eta = c / sqrt(T); this sweep's schedule is {sweep.schedule}"
               if sweep.schedule != "c/sqrt(T)" else outside_premise(sweep.objective, sweep.layers, sweep.lrs))
    if premise:
        verdict, note = "inconclusive", premise
    lower, _ = sweep.limits()
    if verdict == "fails" and not np.any(lower > sweep.bounds):
        verdict = "inconclusive"
        note = (f"pre-asymptotic: the decay is surely slower than T^({limit:g}) but stays below the explicit "
                f"bound (C2) in the window")
    judged = []
    for control in controls:
        slope, control_low, control_high = control.slope()
        schedule = "constant eta" if SCHEDULES[control.schedule] == 0 else f"eta ~ {control.schedule}"
        judged.append(Control(f"{schedule}, same window, replicates and first eta", limit, slope,
                              (control_low, control_high), stats.rate_verdict(control_low, control_high, limit)))
    return CheckResult(
        claim="C1", statement=C1.statement, source=theorem(sweep.layers),
        setting={**sweep.setting(), "tolerance": tolerance, "slope_limit": limit},
        predicted=-0.5, kind=C1.kind, measured=measured, interval=(low, high), verdict=verdict,
        control=judged, resolution=Resolution("smallest slope excess over -1/2 rejected", tolerance + measured - low),
        note=note)


def outside_premise(objective: Objective, layers: Sequence[tuple[int, float]], lrs: Iterable[float]) -> str:
    """Why C2 claims nothing at these step sizes (an eta above the step condition's), or ""."""
    optimizer = MLA(layers)
    if objective.L is None:
        return "outside the premise: the objective has no global smoothness constant L"
    largest = max_lr(optimizer.K, optimizer.P, objective.L)
    eta = max(lrs)
    return (f"outside the premise: eta = {eta:.3g} > {largest:.3g}, the largest eta of the step condition"
            if eta > largest else "")


def check_bound(*sweeps: RateSweep, bound_scale: float = 1.0) -> CheckResult:
    """C2: A(T) <= bound at every T of every sweep (``bound_scale`` != 1 only for negative controls);
    "inconclusive" where a sweep's eta breaks the step condition, the theorem's premise.

    The family of the Bonferroni correction is the T's of the sweeps given, and only those: the
    bound sweep alone for an optimizer without a C1 window, the bound sweep and the window for
    one with (``judge``), so each row's limits hold jointly at 95 % over what it judged."""
    if not sweeps:
        raise ValueError("check_bound needs at least one sweep")
    note = next((why for sweep in sweeps if (why := outside_premise(sweep.objective, sweep.layers, sweep.lrs))), "")
    count = sum(len(sweep.Ts) for sweep in sweeps)
    limits = [sweep.limits(count) for sweep in sweeps]
    lower, upper = (np.concatenate(side) for side in zip(*limits, strict=True))
    bounds = bound_scale * np.concatenate([sweep.bounds for sweep in sweeps])
    mean = np.concatenate([sweep.mean for sweep in sweeps])
    worst = int(np.argmax(upper / bounds))
    sharpest = int(np.argmax(lower / bounds))
    control = Control(f"the bound divided by {DETECTED_FACTOR:g}", float(bounds[sharpest] / DETECTED_FACTOR),
                      float(mean[sharpest]), (float(lower[sharpest]), float(upper[sharpest])),
                      stats.bound_verdict(lower, upper, bounds / DETECTED_FACTOR))
    positive = lower > 0
    factor = float(np.min(bounds[positive] / lower[positive])) if positive.any() else math.inf
    first = sweeps[0]
    return CheckResult(
        claim="C2", statement=C2.statement, source=C2.source,
        setting={**first.setting(), "T": [T for s in sweeps for T in s.Ts.tolist()],
                 "lr": [lr for s in sweeps for lr in s.lrs.tolist()], "bound": bounds.tolist(),
                 "ratio_measured_to_bound": (mean / bounds).tolist(), "bound_scale": bound_scale},
        predicted=float(bounds[worst]), kind=C2.kind, measured=float(mean[worst]),
        interval=(float(lower[worst]), float(upper[worst])),
        verdict="inconclusive" if note else stats.bound_verdict(lower, upper, bounds),
        control=[control], resolution=Resolution("smallest factor F with bound / F rejected", factor), note=note)


# ---- the group: `mla-check rate`, the report, simulations/rate_check.py --------------------------

PAPER_LAYERS: Layers = ((5, 0.5), (5, 0.5))
OBJECTIVES = ("quadratic", "robust-regression", "logistic-nonconvex", "wells")


@dataclass(frozen=True)
class RatePreset:
    """The bound sweep ``Ts`` (top-level cycles of the nesting; the others run at its oracle calls),
    the C1 window's rule (first T >= ``floor_multiple`` T* and >= ``relaxation_multiple`` tau, a
    factor ``span`` in ``points`` steps), replicates, the nesting, the objectives, the noise level.

    ``reference_windows``: whether the reference optimizers (one-layer Lookahead and SGD, see
    ``_optimizers``) also run the C1 window and its controls (a C1 row each). When False they run
    only their bound sweep (a C2 row on it alone); the nesting runs its window either way, with
    the same numbers. False at quick and default, where the reference windows would cost most of
    the run (module docstring), True at full.
    """

    Ts: tuple[int, ...]
    replicates: int
    floor_multiple: float
    relaxation_multiple: float
    span: float
    points: int
    layers: Layers = PAPER_LAYERS
    objectives: tuple[str, ...] = OBJECTIVES
    sigma: float = 1.0
    reference_windows: bool = False


# Two T's per C1 window at quick and default: a third, log-midway, would carry no weight in the
# least-squares slope (its centred log T is 0) and cost more than the first.
PRESETS = {
    "quick": RatePreset((30, 300, 3000), 8, 2.5, 30.0, 4.0, 2, reference_windows=False),
    "default": RatePreset((30, 100, 300, 1000, 3000), 16, 2.5, 30.0, 4.0, 2, reference_windows=False),
    "full": RatePreset((30, 100, 300, 1000, 3000, 10_000), 64, 3.0, 60.0, 6.0, 3, reference_windows=True),
}


def default_objectives(names: Iterable[str] = OBJECTIVES) -> list[Objective]:
    """Three smooth non-convex objectives and one quadratic, sized for a laptop.

    The wells are shallow (beta = 0.05, omega = 6: L = 2.8, f'' down to -0.8, crossed on the way
    from x0 = 0): the default wells (beta = 1, omega = 4: L = 17, Delta = 4.1, Hess f(x*) = 17 I)
    put the crossover T* = 2 Delta L / (e'^2 K sigma^2) (e' = L eta P) of the nesting at 1.1e5
    cycles, 2.7e6 oracle calls per replicate before the controls reach their floor at sigma = 1.
    """
    built = {"quadratic": lambda: diagonal_quadratic(5, 0, condition=4.0),
             "robust-regression": lambda: robust_regression(5, 0, m=16),
             "logistic-nonconvex": lambda: logistic_nonconvex(5, 0, m=16, lam=0.01),
             "wells": lambda: separable_wells(5, 0, beta=0.05, omega=6.0)}
    names = list(names)
    unknown = [name for name in names if name not in built]
    if unknown:
        raise ValueError(f"the rate check has no default setting for {', '.join(unknown)}; "
                         f"choose from {', '.join(built)}")
    return [built[name]() for name in names]


@dataclass
class OptimizerRuns:
    """One optimizer's sweeps: the bound sweep, the C1 window at c / sqrt(T) and its controls
    (``rate`` None and ``controls`` empty when this optimizer ran no window, ``has_window``)."""

    bound: RateSweep
    rate: RateSweep | None
    controls: list[RateSweep]


@dataclass
class RateCase:
    """Every optimizer's sweeps on one objective and oracle, and the C1 window."""

    objective: str
    oracle: str
    window: Window
    runs: list[OptimizerRuns]


def has_window(spec: Iterable[tuple[int, float]], preset: RatePreset) -> bool:
    """Does the optimizer ``spec`` run the C1 window: the preset's nesting always, the reference
    optimizers when ``preset.reference_windows``."""
    return preset.reference_windows or MLA(spec).layers == MLA(preset.layers).layers


def optimizer_runs(objective: Objective, oracle: Oracle, spec: Layers, preset: RatePreset, window: Window,
                   seed: int = 0, progress: bool | None = None) -> OptimizerRuns:
    """The sweeps of the optimizer ``spec`` at the oracle calls of the nesting's T's and at
    eta P = window.lr: the bound sweep and, where ``has_window``, the C1 window and its controls
    (whose first T is reused)."""
    optimizer, K = MLA(spec), MLA(preset.layers).K

    def sweep(Ts: Iterable[int], schedule: str = "c/sqrt(T)", reuse: RateSweep | None = None) -> RateSweep:
        own = np.maximum(1, np.round(np.asarray(Ts) * K / optimizer.K)).astype(np.int64)
        return rate_sweep(objective, spec, oracle, own, preset.replicates, window.lr / optimizer.P, schedule, seed,
                          progress, reuse)

    if not has_window(spec, preset):
        return OptimizerRuns(sweep(preset.Ts), None, [])
    rate = sweep(window.Ts)
    return OptimizerRuns(sweep(preset.Ts), rate, [sweep(window.Ts, schedule, rate) for schedule in CONTROLS])


def _optimizers(preset: RatePreset) -> list[Layers]:
    """The preset's nesting, one-layer Lookahead (5, 0.5) and SGD (each once)."""
    layers = MLA(preset.layers).layers
    return [layers] + [other for other in (((5, 0.5),), ()) if other != layers]


def units(preset: RatePreset, seed: int = 0) -> list[tuple[str, str, Layers, RatePreset, int]]:
    """Work units: (objective, oracle, optimizer, preset, seed) for each objective, with Gaussian
    noise and (finite sums) minibatches with replacement, and each optimizer of ``_optimizers``."""
    names = list(preset.objectives)
    oracles = [["gaussian"] + (["replacement"] if objective.variance_bound else [])
               for objective in default_objectives(names)]
    return [(name, oracle, spec, preset, seed) for name, kinds in zip(names, oracles, strict=True)
            for oracle in kinds for spec in _optimizers(preset)]


def run_unit(unit: tuple[str, str, Layers, RatePreset, int]) -> RateCase:
    """One optimizer's sweeps on one objective and oracle, as a RateCase of one run (its C1
    window, at eta P the same for every optimizer, is computed again by each unit, also by one
    that runs no window: a fraction of a second, the same numbers, and the case's record)."""
    name, oracle_name, spec, preset, seed = unit
    [objective] = default_objectives([name])
    oracle: Oracle = GaussianNoise(preset.sigma) if oracle_name == "gaussian" else WithReplacement()
    lr = effective_lr(objective, _optimizers(preset))
    window = rate_window(objective, oracle, MLA(preset.layers).layers, lr, preset.floor_multiple,
                         preset.relaxation_multiple, preset.span, preset.points)
    runs = optimizer_runs(objective, oracle, spec, preset, window, seed)
    return RateCase(objective.name, oracle.name, window, [runs])


def combine(preset: RatePreset, seed: int, results: list[RateCase]) -> list[RateCase]:
    """[RateCase] per objective and oracle, in unit order: the units' runs of one case joined."""
    cases: list[RateCase] = []
    for result in results:
        if cases and (cases[-1].objective, cases[-1].oracle) == (result.objective, result.oracle):
            cases[-1].runs += result.runs
        else:
            cases.append(RateCase(result.objective, result.oracle, result.window, list(result.runs)))
    return cases


# measure(preset, seed, progress) -> [RateCase] for each objective and oracle: the preset's nesting,
# one-layer Lookahead (5, 0.5) and SGD at the same oracle calls and eta P (the latter two without
# a C1 window unless preset.reference_windows)
measure = Work(units, run_unit, combine)


def judge(cases: list[RateCase]) -> list[CheckResult]:
    """For every optimizer, in order: C1 (on the window, with its controls) where its window ran,
    and C2 on the bound sweep and, where it ran, the window."""
    results = []
    for case in cases:
        for runs in case.runs:
            window = {"window_crossover": case.window.crossover, "window_relaxation": case.window.relaxation,
                      "window_floor": case.window.floor}
            checks: list[tuple[CheckResult, tuple[RateSweep, ...]]] = []
            if runs.rate is not None:
                checks.append((check_rate(runs.rate, runs.controls), (runs.rate,)))
            judged = (runs.bound,) if runs.rate is None else (runs.bound, runs.rate)
            checks.append((check_bound(*judged), judged))
            for check, sweeps in checks:
                if runs.rate is not None:  # this optimizer ran the window
                    check.setting.update(window)
                exact = [s.exact for s in sweeps if s.exact is not None]
                if len(exact) == len(sweeps):
                    check.setting["exact_A"] = np.concatenate(exact).tolist()
                    check.setting["exact_agrees"] = all(s.exact_agrees() for s in sweeps)
                results.append(check)
    return results


def artifacts(cases: list[RateCase], results: list[CheckResult]) -> list[Figure | Table | Document]:
    """Per objective and oracle: a figure of A(T), its bounds and the controls, a CSV of the sweeps,
    a JSON of the checks."""
    from ..plotting import rate_figure

    files: list[Figure | Table | Document] = []
    for case in cases:
        stem = f"rate_{case.objective}_{case.oracle}"
        rows = [[format_layers(s.layers), s.schedule, sweep_name, int(T), int(c), lr, m, e, b, lo, ex]
                for runs in case.runs
                for sweep_name, s in [("bound", runs.bound)] + ([] if runs.rate is None else [("window", runs.rate)])
                + [("window", control) for control in runs.controls]
                for T, c, lr, m, e, b, lo, ex in zip(s.Ts, s.calls, s.lrs, s.mean, s.stderr, s.bounds, s.minima,
                                                     s.exact if s.exact is not None else [None] * len(s.Ts),
                                                     strict=True)]
        mine = [check for check in results if (check.setting["objective"], check.setting["oracle"])
                == (case.objective, case.oracle)]
        for check in mine:
            check.figures, check.data = [f"{stem}.png"], [f"{stem}.csv", f"{stem}.json"]
        title = f"{case.objective}, {case.oracle} oracle"
        files += [Figure(f"{stem}.png", partial(rate_figure, case.runs, title=title)),
                  Table(f"{stem}.csv", ("layers", "schedule", "sweep", "T", "oracle_calls", "lr", "A_mean",
                                        "A_stderr", "bound", "min_t_mean_grad_norm_sq", "A_exact"), rows),
                  Document(f"{stem}.json", mine)]
    return files


GROUP = CheckGroup(
    name="rate", claims=(C1, C2), presets=PRESETS, measure=measure, judge=judge, artifacts=artifacts,
    cost=24.0, summary="claims C1 and C2: the O(1/sqrt(T)) rate and the explicit bound, with matched controls",
    description="With eta = c / sqrt(T), check the log-log slope of (1/T) sum E||grad f||^2 (C1) in a window of T "
                "chosen where a constant eta and eta ~ T^(-1/4) (the matched controls) sit on their noise floor, "
                "and the explicit bound (C2) on a sweep from a few tens of cycles and on that window, for the "
                "given nesting; one-layer Lookahead and SGD, at equal oracle calls and effective rate eta P, get "
                "C2 on that sweep (their C1 windows, reference theorems that cost most of the run, only with "
                "--full).",
    full_help="a wider, later C1 window, 64 replicates, the C1 window also for Lookahead and SGD (about 9 "
              "minutes on 2 cores, 7 of them the Lookahead and SGD windows)",
    options=(Option("--objective", "objectives", "NAME", f"one of {', '.join(OBJECTIVES)}; repeat for several "
                    "(default: all four)", parse=one_of("--objective", OBJECTIVES), repeatable=True),
             Option("--layers", "layers", "SPEC", "the nesting to check, k:alpha per layer, innermost first "
                    "(default 5:0.5,5:0.5)", parse=lambda spec: tuple(parse_layers(spec)))))
