"""Claims C1 and C2: the O(1/sqrt(T)) stationarity rate and the explicit bound, side by side.

Setting: f L-smooth with f >= f_low; an oracle with E||G - grad f||^2 <= sigma^2 (Gaussian noise,
or minibatches drawn with replacement from a finite sum with a proven ``variance_bound``).

For each T of a geometric sweep the optimizer runs T top-level iterations at eta = c / sqrt(T), with
c chosen so that the bound's step condition 2 L eta P K + L^2 eta^2 K (K-1) <= 1 holds at every T.
Per replicate r, A_r(T) = (1/T) sum_{t<T} ||grad f(phi_t)||^2 (exact gradient norms at the slow
weights); A(T) is their mean.

- C1 (Pushkin & Barba, Theorem for two layers; any depth here): A(T) decays at least like
  T^(-1/2). Measured: the least-squares slope of log A(T) on log T, with a 95 % bootstrap
  interval (replicates resampled jointly across T, 2000 resamples). Holds when the upper end is at
  most -1/2 + ``tolerance`` (0.05); fails when the lower end is above it; else inconclusive.
- C2 (theory/convergence.md, an upper bound): A(T) <= 2 Delta / (eta P K T) + 2 L eta P sigma^2
  + L^2 eta^2 (K - 1) sigma^2. Measured at the T where A(T) is closest to its bound, with
  Student-t confidence limits at level 1 - 0.05 / len(Ts) per T (Bonferroni: family-wise error
  below 5 %). Holds when every upper limit is below its bound; fails when some lower limit is
  above. A bound looser than 10 times the measurement at every T checks little: that verdict is
  inconclusive.

Quadratics with Gaussian noise also get A(T) exactly from the moment recurrences (moments.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from ..engine import simulate
from ..files import write_csv, write_json
from ..moments import quadratic_moments
from ..objectives import diagonal_quadratic, logistic_nonconvex, robust_regression, separable_wells
from ..objectives.base import Objective
from ..oracles import GAUSSIAN, REPLACEMENT, GaussianNoise, WithReplacement
from ..spec import MLA, format_layers
from ..symbolic import convergence_bound, max_lr
from .result import CheckResult

__all__ = ["RateSweep", "rate_sweep", "check_rate", "check_bound", "oracle_variance"]

BOOTSTRAP_RESAMPLES = 2000
LOOSEST_USEFUL_BOUND = 10.0  # a bound above 10 x the measurement at every T checks little
SOURCE_C1 = "Pushkin & Barba (2021), convergence of two-layer MLA; Wang et al. (2020) for n = 1"
SOURCE_C2 = "theory/convergence.md (claim C2 of THEORY.md)"


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
        return float(stats.t.ppf(1 - 0.05 / (2 * len(self.Ts)), len(self.averages) - 1))

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


def _slope(Ts, values) -> float:
    return float(np.polyfit(np.log(Ts), np.log(values), 1)[0])


def check_rate(sweep: RateSweep, tolerance: float = 0.05, seed: int = 0) -> CheckResult:
    """C1: the log-log slope of A(T) is at most -1/2 (+ tolerance), with a bootstrap interval."""
    if np.any(~np.isfinite(sweep.averages)):
        raise ValueError("some replicates diverged; the rate check needs every replicate finite")
    measured = _slope(sweep.Ts, sweep.mean)
    rng = np.random.default_rng(seed)
    R = len(sweep.averages)
    slopes = [_slope(sweep.Ts, sweep.averages[rng.integers(0, R, R)].mean(axis=0))
              for _ in range(BOOTSTRAP_RESAMPLES)]
    low, high = np.percentile(slopes, [2.5, 97.5])
    limit = -0.5 + tolerance
    verdict = "holds" if high <= limit else "fails" if low > limit else "inconclusive"
    return CheckResult(
        claim="C1", statement="(1/T) sum_{t<T} E||grad f(phi_t)||^2 decays at least like T^(-1/2) "
                              "with eta = c / sqrt(T)",
        source=SOURCE_C1, setting={**sweep.setting(), "tolerance": tolerance, "slope_limit": limit},
        predicted=-0.5, kind="upper_bound", measured=measured, interval=(float(low), float(high)),
        verdict=verdict)


def check_bound(sweep: RateSweep, bound_scale: float = 1.0) -> CheckResult:
    """C2: A(T) <= bound at every T of the sweep (``bound_scale`` != 1 only for negative controls)."""
    bounds = bound_scale * sweep.bounds
    z = sweep.t_quantile
    upper, lower = sweep.mean + z * sweep.stderr, sweep.mean - z * sweep.stderr
    ratios = sweep.mean / bounds
    worst = int(np.argmax(upper / bounds))
    if np.any(lower > bounds):
        verdict = "fails"
    elif np.all(upper < bounds):
        verdict = "holds" if np.max(upper / bounds) >= 1 / LOOSEST_USEFUL_BOUND else "inconclusive"
    else:
        verdict = "inconclusive"
    return CheckResult(
        claim="C2", statement="(1/T) sum_{t<T} E||grad f(phi_t)||^2 <= 2 Delta/(eta P K T) + 2 L eta P sigma^2 "
                              "+ L^2 eta^2 (K-1) sigma^2 when 2 L eta P K + L^2 eta^2 K (K-1) <= 1",
        source=SOURCE_C2,
        setting={**sweep.setting(), "bound": bounds.tolist(), "ratio_measured_to_bound": ratios.tolist(),
                 "bound_scale": bound_scale},
        predicted=float(bounds[worst]), kind="upper_bound", measured=float(sweep.mean[worst]),
        interval=(float(lower[worst]), float(upper[worst])), verdict=verdict)


# ---- the default run: `mla-check rate` and simulations/rate_check.py ----------------------------

SIZES = {  # T sweep for the nesting checked (two decades at least), replicates
    "quick": (np.geomspace(30, 3_000, 3), 8),
    "default": (np.geomspace(30, 3_000, 5), 16),
    "full": (np.geomspace(100, 100_000, 7), 64),
}
PAPER_LAYERS = ((5, 0.5), (5, 0.5))


def default_objectives(names=None) -> list:
    """Three smooth non-convex objectives and one quadratic, sized for a laptop."""
    built = {"quadratic": lambda: diagonal_quadratic(5, 0, condition=4.0),
             "robust-regression": lambda: robust_regression(5, 0, m=16),
             "logistic-nonconvex": lambda: logistic_nonconvex(5, 0, m=16, lam=0.01),
             "wells": lambda: separable_wells(5, 0)}
    names = list(built) if names is None else names
    unknown = [name for name in names if name not in built]
    if unknown:
        raise ValueError(f"the rate check has no default setting for {unknown}; choose from {', '.join(built)}")
    return [built[name]() for name in names]


def run_rate_checks(out, objective_names=None, layers=PAPER_LAYERS, size: str = "default",
                    sigma: float = 1.0, seed: int = 0, progress: bool | None = None) -> list:
    """C1 and C2 for ``layers``, one-layer Lookahead and SGD at the same number of oracle calls,
    on each default objective with Gaussian noise and (finite sums) minibatches with replacement.
    Writes one figure, one CSV and one JSON per objective and oracle into ``out``."""
    from ..plotting import rate_figure  # matplotlib only when figures are drawn

    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    Ts, replicates = SIZES[size]
    layers = MLA(layers).layers
    optimizers = [layers] + [other for other in (((5, 0.5),), ()) if other != layers]
    calls = Ts * MLA(layers).K
    out = Path(out)
    results = []
    for objective in default_objectives(objective_names):
        oracles = [GaussianNoise(sigma)] + ([WithReplacement()] if objective.variance_bound else [])
        for oracle in oracles:
            sweeps = [rate_sweep(objective, spec, oracle, np.maximum(1, np.round(calls / MLA(spec).K)).astype(int),
                                 replicates, seed=seed, progress=progress) for spec in optimizers]
            stem = f"rate_{objective.name}_{oracle.name}"
            figure = rate_figure(sweeps, out / f"{stem}.png", f"{objective.name}, {oracle.name} oracle")
            rows = [[format_layers(s.layers), int(T), int(c), lr, m, e, b, lo, ex]
                    for s in sweeps
                    for T, c, lr, m, e, b, lo, ex in zip(s.Ts, s.calls, s.lrs, s.mean, s.stderr, s.bounds, s.minima,
                                                         s.exact if s.exact is not None else [None] * len(s.Ts))]
            table = write_csv(out / f"{stem}.csv", ["layers", "T", "oracle_calls", "lr", "A_mean", "A_stderr",
                                                    "bound", "min_t_mean_grad_norm_sq", "A_exact"], rows)
            checks = []
            for sweep in sweeps:
                for check in (check_rate(sweep), check_bound(sweep)):
                    check.figures, check.data = [str(figure)], [str(table), str(out / f"{stem}.json")]
                    if sweep.exact is not None:
                        check.setting["exact_A"] = sweep.exact.tolist()
                        check.setting["exact_agrees"] = sweep.exact_agrees()
                    checks.append(check)
            write_json(out / f"{stem}.json", [check.to_dict(out) for check in checks])
            results += checks
    return results
