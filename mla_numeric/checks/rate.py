"""Claims C1 and C2: the O(1/sqrt(T)) stationarity rate and the explicit bound, side by side.

Setting
    f L-smooth with f >= f_low; an oracle with E||G - grad f||^2 <= sigma^2 (Gaussian noise, or
    minibatches drawn with replacement from a finite sum with a proven ``variance_bound``). For
    each T of a geometric sweep the optimizer runs T top-level iterations at eta = c / sqrt(T), c
    chosen so that the step condition 2 L eta P K + L^2 eta^2 K (K-1) <= 1 holds at every T. Per
    replicate r, A_r(T) = (1/T) sum_{t<T} ||grad f(phi_t)||^2 at the slow weights; A(T) is their
    mean. The nesting checked, one-layer Lookahead (5, 0.5) and SGD run at equal oracle calls.
Claim
    C1: A(T) decays at least like T^(-1/2). C2: A(T) <= 2 Delta / (eta P K T) + 2 L eta P sigma^2
    + L^2 eta^2 (K - 1) sigma^2.
Source
    C1: Pushkin & Barba (2021), two-layer MLA; Wang et al. (2020) for n = 1. C2:
    theory/convergence.md (any depth).
How it is decided
    C1 (rule ``rate``): the least-squares slope of log A(T) on log T with a 95 % percentile
    bootstrap interval (replicates resampled jointly across T); the limit is -1/2 + ``TOLERANCE``.
    C2 (rule ``bound``): Student-t limits per T at family-wise level 95 % (Bonferroni over the
    sweep); a bound looser than ``LOOSEST_USEFUL_BOUND`` times the measurement at every T checks
    little and is inconclusive. Quadratics with Gaussian noise also get A(T) exactly (moments.py).
Negative control
    C2 with the bound divided by 10 fails; a constant eta or eta ~ T^(-1/4) at sigma = 5 fails C1
    (tests/test_rate.py).
Example
    >>> from mla_numeric.checks.registry import group
    >>> rate = group("rate")
    >>> data, results = rate.run(rate.preset("quick", objectives=("quadratic",)))  # doctest: +SKIP
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..engine import simulate
from ..moments import quadratic_moments
from ..objectives import diagonal_quadratic, logistic_nonconvex, robust_regression, separable_wells
from ..objectives.base import Objective
from ..oracles import GAUSSIAN, REPLACEMENT, GaussianNoise, WithReplacement
from ..spec import MLA, format_layers, parse_layers
from ..symbolic import convergence_bound, max_lr
from . import stats
from .group import CheckGroup, Claim, Document, Figure, Option, Table
from .result import CheckResult

__all__ = ["RateSweep", "RatePreset", "rate_sweep", "check_rate", "check_bound", "oracle_variance", "GROUP"]

BOOTSTRAP_RESAMPLES = 2000
TOLERANCE = 0.05             # C1 holds when the slope's upper limit is at most -1/2 + TOLERANCE
LOOSEST_USEFUL_BOUND = 10.0  # a bound above 10 x the measurement at every T checks little
FAILURE_PROBABILITY = 0.05   # family-wise, per sweep, of the C2 limits
C1 = Claim("C1", "Rate O(1/sqrt(T))",
           "(1/T) sum_{t<T} E||grad f(phi_t)||^2 decays at least like T^(-1/2) with eta = c / sqrt(T)",
           "Pushkin & Barba (2021), convergence of two-layer MLA; Wang et al. (2020) for n = 1", "rate",
           f"the log-log slope over a sweep of T, with a {BOOTSTRAP_RESAMPLES}-resample bootstrap 95 % "
           f"interval; {stats.RULES['rate']}, the limit being -1/2 + {TOLERANCE:g}")
C2 = Claim("C2", "Explicit convergence bound, any depth",
           "(1/T) sum_{t<T} E||grad f(phi_t)||^2 <= 2 Delta/(eta P K T) + 2 L eta P sigma^2 "
           "+ L^2 eta^2 (K-1) sigma^2 when 2 L eta P K + L^2 eta^2 K (K-1) <= 1",
           "theory/convergence.md (claim C2 of THEORY.md)", "bound",
           f"Student-t limits per T at family-wise level {1 - FAILURE_PROBABILITY:.0%} (Bonferroni over "
           f"the sweep); {stats.RULES['bound']}; a bound more than {LOOSEST_USEFUL_BOUND:g} times the "
           f"measurement at every T is inconclusive")


@dataclass
class RateSweep:
    """Per-replicate averages A_r(T) over a sweep of T, with everything needed to judge them."""

    objective: Objective
    layers: tuple
    oracle_name: str
    Ts: np.ndarray
    lrs: np.ndarray
    averages: np.ndarray       # (R, len(Ts)): A_r(T)
    minima: np.ndarray         # (len(Ts),): min_{t <= T} of the mean of ||grad f(phi_t)||^2
    bounds: np.ndarray         # (len(Ts),): the C2 bound at (eta, T)
    sigma: float
    delta: float
    exact: np.ndarray | None   # (len(Ts),): A(T) from the moment recurrences (quadratics)

    @property
    def mean(self) -> np.ndarray:
        return self.averages.mean(axis=0)

    @property
    def stderr(self) -> np.ndarray:
        return self.averages.std(axis=0, ddof=1) / math.sqrt(len(self.averages))

    @property
    def calls(self) -> np.ndarray:
        """Oracle calls per replicate at each T (T K)."""
        return self.Ts * MLA(self.layers).K

    def exact_agrees(self) -> bool:
        """Monte Carlo A(T) within its Student-t limits (Bonferroni over the sweep) of the exact A(T)."""
        return bool(np.all(np.abs(self.mean - self.exact) <= self.t_quantile * self.stderr))

    @property
    def t_quantile(self) -> float:
        """Student-t quantile for 95 % family-wise confidence over the sweep (Bonferroni)."""
        return stats.student_t_quantile(stats.bonferroni(FAILURE_PROBABILITY, len(self.Ts)),
                                        len(self.averages) - 1)

    def setting(self) -> dict:
        optimizer = MLA(self.layers)
        return {"objective": self.objective.name, "dim": self.objective.dim, "L": self.objective.L,
                "layers": format_layers(self.layers), "K": optimizer.K, "P": optimizer.P,
                "oracle": self.oracle_name, "sigma": self.sigma, "Delta": self.delta,
                "T": self.Ts.tolist(), "lr": self.lrs.tolist(), "replicates": len(self.averages)}


def oracle_variance(objective: Objective, oracle) -> float:
    """sigma with E||G - grad f||^2 <= sigma^2 for every x, or ValueError when none is proven."""
    if oracle.kind == GAUSSIAN:
        return float(np.sqrt(np.sum(oracle.noise_scale(objective.dim) ** 2)))
    if oracle.kind == REPLACEMENT and objective.variance_bound is not None:
        return math.sqrt(objective.variance_bound)
    raise ValueError(f"no proven sigma for oracle {oracle.name!r} on {objective.name!r}: use gaussian noise, "
                     f"or with-replacement minibatches of an objective with a variance_bound")


def rate_sweep(objective: Objective, layers, oracle, Ts, replicates: int = 32, c: float | None = None,
               constant_lr: float | None = None, seed: int = 0, progress: bool | None = None) -> RateSweep:
    """Run the sweep. eta = c / sqrt(T), by default c = 0.9 eta_max sqrt(min T); or a constant eta."""
    if objective.L is None:
        raise ValueError(f"the rate check needs a globally smooth objective; {objective.name!r} has no L "
                         f"({objective.L_reason})")
    Ts = np.array(sorted(Ts), dtype=np.int64)
    optimizer = MLA(layers, 1.0)
    sigma = oracle_variance(objective, oracle)
    x0 = objective.start()
    delta = objective.f(x0) - objective.f_low
    if c is None:
        c = 0.9 * max_lr(optimizer.K, optimizer.P, objective.L) * math.sqrt(Ts[0])
    lrs = np.full(len(Ts), constant_lr, dtype=float) if constant_lr is not None else c / np.sqrt(Ts)
    bound = convergence_bound(optimizer.layers)
    quadratic_exact = oracle.kind == GAUSSIAN and objective.params.get("family") in (
        "diagonal_quadratic", "dense_quadratic", "nqm")
    averages, minima, bounds, exact = [], [], [], []
    for T, lr in zip(Ts, lrs):
        optimizer_at_T = MLA(layers, lr)
        run = simulate(objective, optimizer_at_T, int(T), replicates, oracle, x0, seed=seed,
                       keep="summary", progress=progress)
        averages.append(run.average_grad_norm_sq)
        minima.append(np.min(run.grad_norm_sq.mean[:T]))
        bounds.append(bound.evaluate(eta=lr, L=objective.L, sigma=sigma, Delta=delta, T=int(T)))
        if quadratic_exact:
            exact.append(quadratic_moments(objective, optimizer_at_T, int(T), oracle, x0).grad_norm_sq[:T].mean())
    return RateSweep(objective, optimizer.layers, oracle.name, Ts, lrs, np.array(averages).T,
                     np.array(minima), np.array(bounds), sigma, delta,
                     np.array(exact) if quadratic_exact else None)


def check_rate(sweep: RateSweep, tolerance: float = TOLERANCE, seed: int = 0) -> CheckResult:
    """C1: the log-log slope of A(T) is at most -1/2 (+ tolerance), with a bootstrap interval."""
    if np.any(~np.isfinite(sweep.averages)):
        raise ValueError("some replicates diverged; the rate check needs every replicate finite")
    measured, low, high = stats.bootstrap_slope_interval(sweep.Ts, sweep.averages, BOOTSTRAP_RESAMPLES, seed=seed)
    limit = -0.5 + tolerance
    return CheckResult(
        claim="C1", statement=C1.statement, source=C1.source,
        setting={**sweep.setting(), "tolerance": tolerance, "slope_limit": limit},
        predicted=-0.5, kind=C1.kind, measured=measured, interval=(low, high),
        verdict=stats.rate_verdict(low, high, limit))


def check_bound(sweep: RateSweep, bound_scale: float = 1.0) -> CheckResult:
    """C2: A(T) <= bound at every T of the sweep (``bound_scale`` != 1 only for negative controls)."""
    bounds = bound_scale * sweep.bounds
    z = sweep.t_quantile
    upper, lower = sweep.mean + z * sweep.stderr, sweep.mean - z * sweep.stderr
    ratios = sweep.mean / bounds
    worst = int(np.argmax(upper / bounds))
    verdict = stats.bound_verdict(lower, upper, bounds)
    if verdict == "holds" and np.max(upper / bounds) < 1 / LOOSEST_USEFUL_BOUND:
        verdict = "inconclusive"
    return CheckResult(
        claim="C2", statement=C2.statement, source=C2.source,
        setting={**sweep.setting(), "bound": bounds.tolist(), "ratio_measured_to_bound": ratios.tolist(),
                 "bound_scale": bound_scale},
        predicted=float(bounds[worst]), kind=C2.kind, measured=float(sweep.mean[worst]),
        interval=(float(lower[worst]), float(upper[worst])), verdict=verdict)


# ---- the group: `mla-check rate`, the report, simulations/rate_check.py --------------------------

PAPER_LAYERS = ((5, 0.5), (5, 0.5))
OBJECTIVES = ("quadratic", "robust-regression", "logistic-nonconvex", "wells")


@dataclass(frozen=True)
class RatePreset:
    """T sweep of the nesting checked (two decades at least; the others run at its oracle calls),
    replicates, the nesting, the objectives and the Gaussian noise level."""

    Ts: tuple
    replicates: int
    layers: tuple = PAPER_LAYERS
    objectives: tuple = OBJECTIVES
    sigma: float = 1.0


PRESETS = {
    "quick": RatePreset(tuple(np.geomspace(30, 3_000, 3)), 8),
    "default": RatePreset(tuple(np.geomspace(30, 3_000, 5)), 16),
    "full": RatePreset(tuple(np.geomspace(100, 100_000, 7)), 64),
}


def default_objectives(names=OBJECTIVES) -> list:
    """Three smooth non-convex objectives and one quadratic, sized for a laptop."""
    built = {"quadratic": lambda: diagonal_quadratic(5, 0, condition=4.0),
             "robust-regression": lambda: robust_regression(5, 0, m=16),
             "logistic-nonconvex": lambda: logistic_nonconvex(5, 0, m=16, lam=0.01),
             "wells": lambda: separable_wells(5, 0)}
    unknown = [name for name in names if name not in built]
    if unknown:
        raise ValueError(f"the rate check has no default setting for {unknown}; choose from {', '.join(built)}")
    return [built[name]() for name in names]


@dataclass
class RateCase:
    """The sweeps of every optimizer on one objective and oracle."""

    objective: str
    oracle: str
    sweeps: list


def measure(preset: RatePreset, seed: int = 0, progress: bool | None = None) -> list:
    """[RateCase] for each objective, with Gaussian noise and (finite sums) minibatches with replacement;
    the preset's nesting, one-layer Lookahead (5, 0.5) and SGD at the same number of oracle calls."""
    layers = MLA(preset.layers).layers
    optimizers = [layers] + [other for other in (((5, 0.5),), ()) if other != layers]
    calls = np.asarray(preset.Ts) * MLA(layers).K
    cases = []
    for objective in default_objectives(preset.objectives):
        oracles = [GaussianNoise(preset.sigma)] + ([WithReplacement()] if objective.variance_bound else [])
        for oracle in oracles:
            sweeps = [rate_sweep(objective, spec, oracle, np.maximum(1, np.round(calls / MLA(spec).K)).astype(int),
                                 preset.replicates, seed=seed, progress=progress) for spec in optimizers]
            cases.append(RateCase(objective.name, oracle.name, sweeps))
    return cases


def judge(cases: list) -> list:
    """C1 and C2 for every sweep."""
    results = []
    for case in cases:
        for sweep in case.sweeps:
            for check in (check_rate(sweep), check_bound(sweep)):
                if sweep.exact is not None:
                    check.setting["exact_A"] = sweep.exact.tolist()
                    check.setting["exact_agrees"] = sweep.exact_agrees()
                results.append(check)
    return results


def artifacts(cases: list, results: list) -> list:
    """Per objective and oracle: a figure of A(T) and its bounds, a CSV of the sweeps, a JSON of the checks."""
    from ..plotting import rate_figure

    files = []
    for case in cases:
        stem = f"rate_{case.objective}_{case.oracle}"
        rows = [[format_layers(s.layers), int(T), int(c), lr, m, e, b, lo, ex]
                for s in case.sweeps
                for T, c, lr, m, e, b, lo, ex in zip(s.Ts, s.calls, s.lrs, s.mean, s.stderr, s.bounds, s.minima,
                                                     s.exact if s.exact is not None else [None] * len(s.Ts))]
        mine = [check for check in results if (check.setting["objective"], check.setting["oracle"])
                == (case.objective, case.oracle)]
        for check in mine:
            check.figures, check.data = [f"{stem}.png"], [f"{stem}.csv", f"{stem}.json"]
        files += [Figure(f"{stem}.png", lambda path, case=case: rate_figure(
                      case.sweeps, path, f"{case.objective}, {case.oracle} oracle")),
                  Table(f"{stem}.csv", ("layers", "T", "oracle_calls", "lr", "A_mean", "A_stderr", "bound",
                                        "min_t_mean_grad_norm_sq", "A_exact"), rows),
                  Document(f"{stem}.json", mine)]
    return files


GROUP = CheckGroup(
    name="rate", claims=(C1, C2), presets=PRESETS, measure=measure, judge=judge, artifacts=artifacts,
    cost=25.0, summary="claims C1 and C2: the O(1/sqrt(T)) rate and the explicit bound",
    description="Sweep T over two decades with eta = c / sqrt(T) and check the log-log slope of (1/T) sum "
                "E||grad f||^2 (C1) and the explicit bound (C2), for the given nesting, one-layer Lookahead "
                "and SGD at equal oracle calls.",
    full_help="three decades of T and 64 replicates",
    options=(Option("--objective", "objectives", "NAME", f"one of {', '.join(OBJECTIVES)}; repeat for several "
                    "(default: all four)", repeatable=True),
             Option("--layers", "layers", "SPEC", "the nesting to check, k:alpha per layer, innermost first "
                    "(default 5:0.5,5:0.5)", parse=lambda spec: tuple(parse_layers(spec)))))
