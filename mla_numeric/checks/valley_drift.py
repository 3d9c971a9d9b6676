"""Claim C5 in simulation: the drift along a valley of minima that the variance term V drives.

On the valley objective (objectives/finite_sum.py), f(w) depends on w only through u = w_1 w_2,
and every w with u = u* is a global minimum: grad f = 0 there, but the minibatch gradients are not
zero, so V > 0. The imbalance q(w) = w_1^2 - w_2^2 is conserved by the gradient flow of f
(d q/dt = -2 (w_1 d_1 f - w_2 d_2 f) = 0, since d_1 f = w_2 f'(u) and d_2 f = w_1 f'(u)), and on
the valley grad ||grad f||^2 = 2 H grad f = 0. So, started on the valley, q moves only through
the c_v V term of the modified loss (claim C4):

    d q/dt = -c_v grad q . grad V,        grad q = (2 w_1, -2 w_2).

Measurement. Each optimizer runs with random reshuffling from a point of the valley with q != 0,
for flow time tau = eta P (oracle calls) = 2 (whole epochs) at several eta, R replicates each,
every run with its own random streams. Per eta,
y(eta) = (E q(phi_tau) - q(phi_0)) / (tau eta), the drift per unit flow time per unit eta, with its
standard error across replicates. The modified flow predicts y(eta) = -(c_v / eta) grad q . grad V
at phi_0 + O(eta) (higher-order terms of the expansion, and the motion of phi over tau, which is
O(eta) too). The intercept a of the weighted least-squares fit y = a + b eta + c eta^2 + d eta^3 estimates
the leading coefficient (a cubic: SGD's drift is precise enough to resolve the eta^3 term
at eta = 0.016), with a standard error from the replicates' spread; a chi-square test of
the fit's residuals (p >= 0.01) guards the polynomial model.

Verdicts use normal quantiles with Bonferroni over the rows checked together (family-wise
error 5 %): a prediction holds when it lies inside the interval, fails outside it, and is
inconclusive when the fit is rejected by its chi-square test.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as distributions

from .._typing import JSON, FloatArray, IntArray, Layers
from ..engine import simulate
from ..objectives.base import Objective
from ..objectives.finite_sum import valley_product
from ..oracles import RandomReshuffling
from ..spec import MLA, check_positive, format_layers
from ..symbolic import reshuffled_coefficients
from . import stats
from .modified_flow import variance_gradient
from .result import CheckResult, equality_control, relative_resolution

__all__ = ["imbalance", "valley_start", "DriftSweep", "drift_epochs", "drift_rates", "drift_result", "drift_sweep",
           "predicted_intercept",
           "check_drift", "drift_ratio", "check_drift_ratio", "run_seed", "z_quantile", "MIN_FIT_P_VALUE", "DRIFT_RULE"]

MIN_FIT_P_VALUE = 0.01
FAILURE_PROBABILITY = 0.05  # family-wise over the drift and drift-ratio rows
DRIFT_RULE = (f"normal intervals at family-wise level {1 - FAILURE_PROBABILITY:.0%} (Bonferroni); "
              f"{stats.RULES['equality']}; inconclusive when the cubic fit's chi-square test gives "
              f"p < {MIN_FIT_P_VALUE:g}")
FIT_TERMS = 4  # a cubic in eta: SGD's replicates are precise enough to see the eta^3 term
SOURCE = "Smith et al. (2021) for SGD; THEORY.md C4/C5 (derived c_v) for Lookahead and MLA"


def imbalance(w: ArrayLike) -> FloatArray | np.float64:
    """q(w) = w_1^2 - w_2^2 (over the last axis)."""
    w = np.asarray(w)
    q: FloatArray | np.float64 = w[..., 0] ** 2 - w[..., 1] ** 2
    return q


def valley_start(objective: Objective, stretch: float = 2.0) -> FloatArray:
    """The point (stretch r, sign(u*) r / stretch) of the valley, r = sqrt(|u*|): q != 0 if stretch != 1."""
    product = valley_product(objective)
    root = math.sqrt(abs(product))
    return np.array([stretch * root, math.copysign(root, product) / stretch])


@dataclass
class DriftSweep:
    """y(eta) per eta for one optimizer, and the intercept of its cubic fit in eta."""

    name: str
    layers: Layers
    cycles: int
    lrs: FloatArray
    rates: FloatArray         # y(eta): mean over replicates
    stderr: FloatArray
    replicates: int
    flow_time: float
    direction: float          # grad q . grad V at the start
    fit: FloatArray = field(init=False)  # (a, b, c, d) of y = a + b eta + c eta^2 + d eta^3
    intercept_stderr: float = field(init=False)
    fit_p_value: float = field(init=False)

    def __post_init__(self) -> None:
        """Weighted least squares, weights 1 / stderr^2: the points are independent (each eta has its
        own random streams), so Cov(fit) = (X^T W X)^-1 and the residuals' chi^2 has n - 4 dof."""
        design = np.vander(self.lrs, FIT_TERMS, increasing=True)
        weights = 1.0 / self.stderr
        coefficients, *_ = np.linalg.lstsq(design * weights[:, None], self.rates * weights, rcond=None)
        covariance = np.linalg.inv((design * weights[:, None] ** 2).T @ design)
        chi2 = float(np.sum(((design @ coefficients - self.rates) * weights) ** 2))
        self.fit = cast(FloatArray, coefficients)  # float64 data: numpy's stubs say any floating type
        self.intercept_stderr = float(math.sqrt(covariance[0, 0]))
        self.fit_p_value = float(distributions.chi2.sf(chi2, len(self.lrs) - FIT_TERMS))

    @property
    def intercept(self) -> float:
        """a: the drift per unit flow time over eta, extrapolated to eta -> 0."""
        return float(self.fit[0])

    def setting(self) -> JSON:
        return {"objective": "valley", "oracle": "reshuffle", "optimizer": self.name,
                "layers": format_layers(self.layers), "cycles_per_epoch": self.cycles,
                "lr": self.lrs.tolist(), "y": self.rates.tolist(), "y_stderr": self.stderr.tolist(),
                "replicates": self.replicates, "flow_time": self.flow_time,
                "grad_q_dot_grad_V": self.direction, "fit_p_value": self.fit_p_value}


def run_seed(*keys: int) -> int:
    """An independent base seed for the run named by ``keys`` (SeedSequence hashing), < 2**63."""
    return int(np.random.SeedSequence(keys).generate_state(1, np.uint64)[0] >> np.uint64(1))


def drift_epochs(objective: Objective, layers: Sequence[tuple[int, float]], lrs: Iterable[float],
                 flow_time: float = 2.0) -> IntArray:
    """Whole epochs E per point, one per distinct eta = flow_time / (P m E) nearest to an eta of
    ``lrs``, in increasing eta (needs the valley with m = N K components)."""
    if objective.params.get("family") != "valley":
        raise ValueError(f"the drift check needs the valley objective, got {objective.name!r}")
    lrs = np.asarray(sorted(lrs), dtype=float)
    if len(lrs) <= FIT_TERMS:
        raise ValueError(f"lrs needs at least {FIT_TERMS + 1} values to fit y = a + b eta + c eta^2 + d eta^3 "
                         f"and test the fit, got {len(lrs)}")
    optimizer = MLA(layers, 1.0)
    flow_time = check_positive("flow_time", flow_time)
    if objective.m % optimizer.K:
        raise ValueError(f"m = {objective.m} is not a multiple of K = {optimizer.K}: an epoch must be whole cycles")
    epochs = np.unique(np.maximum(1, np.round(flow_time / (lrs * optimizer.P * objective.m))).astype(int))[::-1]
    if len(epochs) <= FIT_TERMS:
        raise ValueError(f"lrs give only {len(epochs)} distinct whole numbers of epochs for flow_time "
                         f"{flow_time:g}; spread them out or raise flow_time")
    return epochs


def drift_rates(objective: Objective, name: str, layers: Sequence[tuple[int, float]], epochs: int,
                replicates: int | Sequence[int], flow_time: float = 2.0, seed: int = 0,
                progress: bool | None = None) -> FloatArray:
    """y = (q(phi_tau) - q(phi_0)) / (tau eta) for each replicate of ``replicates`` (a count or
    indices), over ``epochs`` whole epochs at eta = flow_time / (P m epochs); replicate r draws from
    the stream (seed, r), so runs of disjoint replicates concatenate to one run of all of them."""
    optimizer = MLA(layers, 1.0)
    lr = flow_time / (optimizer.P * objective.m * epochs)
    start = valley_start(objective)
    run = simulate(objective, MLA(layers, lr), int(epochs) * (objective.m // optimizer.K), replicates,
                   RandomReshuffling(), start, seed=seed, keep="summary", progress=progress)
    if run.diverged:
        raise ValueError(f"{name} at lr {lr:g} diverged ({run.diverged[0]}); choose smaller lrs")
    drift = (imbalance(run.final) - imbalance(start)) / (flow_time * lr)
    return cast(FloatArray, drift)  # an array, not a scalar: run.final has a row per replicate


def drift_result(objective: Objective, name: str, layers: Sequence[tuple[int, float]], epochs: ArrayLike,
                 rates: Sequence[FloatArray], flow_time: float = 2.0) -> DriftSweep:
    """The DriftSweep of the per-replicate ``rates`` (one array per entry of ``epochs``)."""
    optimizer = MLA(layers, 1.0)
    lrs = flow_time / (optimizer.P * objective.m * np.asarray(epochs))
    start = valley_start(objective)
    direction = float(np.array([2 * start[0], -2 * start[1]]) @ variance_gradient(objective, start))
    return DriftSweep(name, optimizer.layers, objective.m // optimizer.K, lrs, np.array([y.mean() for y in rates]),
                      np.array([y.std(ddof=1) / math.sqrt(len(y)) for y in rates]), len(rates[0]), flow_time,
                      direction)


def drift_sweep(objective: Objective, name: str, layers: Sequence[tuple[int, float]], lrs: Iterable[float],
                replicates: int, flow_time: float = 2.0, seed: int = 0, progress: bool | None = None) -> DriftSweep:
    """Measure y(eta) for ``layers`` near each eta in ``lrs`` (needs m = N K components).

    Each eta is moved to the nearest one that makes ``flow_time`` a whole number E of epochs,
    eta = flow_time / (P m E), so that every point has the same flow time; each gets its own
    random streams (seed ``run_seed(seed, index)``), so the points are independent.
    """
    epochs = drift_epochs(objective, layers, lrs, flow_time)
    rates = [drift_rates(objective, name, layers, count, replicates, flow_time, run_seed(seed, index), progress)
             for index, count in enumerate(epochs)]
    return drift_result(objective, name, layers, epochs, rates, flow_time)


def predicted_intercept(sweep: DriftSweep) -> float:
    """-(c_v / eta) grad q . grad V, with c_v derived for the sweep's layers and cycles per epoch."""
    _, c_var = reshuffled_coefficients(sweep.layers, sweep.cycles)
    return -c_var.evaluate(eta=1.0) * sweep.direction


def shallower_intercept(sweep: DriftSweep) -> tuple[str, float]:
    """(description, intercept) of the matched control: the drift predicted with the coefficient of
    the optimizer one layer shallower on the same m minibatches (for SGD: no regularizer, c_v = 0)."""
    if not sweep.layers:
        return "c_v = 0 (no implicit regularization)", 0.0
    shallower = sweep.layers[:-1]
    _, c_var = reshuffled_coefficients(shallower, sweep.cycles * MLA(sweep.layers).K // MLA(shallower).K)
    return (f"c_v of {format_layers(shallower)} for {format_layers(sweep.layers)}",
            -c_var.evaluate(eta=1.0) * sweep.direction)


def z_quantile(rows: int) -> float:
    """Two-sided normal quantile at family-wise level 1 - ``FAILURE_PROBABILITY`` over ``rows``
    intervals (Bonferroni)."""
    return stats.normal_quantile(stats.bonferroni(FAILURE_PROBABILITY, rows))


def _verdict(predicted: float, low: float, high: float, fit_ok: bool) -> str:
    return stats.equality_verdict(predicted, low, high) if fit_ok else "inconclusive"


def check_drift(sweep: DriftSweep, z: float, c_var_over_eta: float | None = None) -> CheckResult:
    """The measured intercept against -(c_v/eta) grad q . grad V (``c_var_over_eta`` overrides the
    derived coefficient, for negative controls)."""
    predicted = predicted_intercept(sweep) if c_var_over_eta is None else -c_var_over_eta * sweep.direction
    low, high = sweep.intercept - z * sweep.intercept_stderr, sweep.intercept + z * sweep.intercept_stderr
    description, control = shallower_intercept(sweep)
    return CheckResult(
        claim="C5", statement="drift of q = w_1^2 - w_2^2 along the valley per unit flow time, over eta, "
                              "as eta -> 0: -(c_v/eta) grad q . grad V",
        source=SOURCE, setting={**sweep.setting(), "z": z,
                                "c_var_over_eta": predicted / -sweep.direction},
        predicted=predicted, kind="equality", measured=sweep.intercept, interval=(low, high),
        verdict=_verdict(predicted, low, high, sweep.fit_p_value >= MIN_FIT_P_VALUE),
        control=[equality_control(description, control, sweep.intercept, (low, high))],
        resolution=relative_resolution("the drift intercept", predicted, (low, high)))


def drift_ratio(deep: DriftSweep, shallow: DriftSweep) -> tuple[float, float]:
    """(ratio, stderr) of the intercepts a_deep / a_shallow, the standard error by the delta
    method (the sweeps are independent runs)."""
    ratio = deep.intercept / shallow.intercept
    return ratio, abs(ratio) * math.hypot(deep.intercept_stderr / deep.intercept,
                                          shallow.intercept_stderr / shallow.intercept)


def check_drift_ratio(deep: DriftSweep, shallow: DriftSweep, z: float, predicted: float) -> CheckResult:
    """Measured a_deep / a_shallow (drift per unit flow time over eta, at the same inner eta)
    against the derived c_v ratio ``predicted``. Other framings scale both by the same known power
    of P, so this one ratio checks them all."""
    ratio, stderr = drift_ratio(deep, shallow)
    low, high = ratio - z * stderr, ratio + z * stderr
    fit_ok = min(deep.fit_p_value, shallow.fit_p_value) >= MIN_FIT_P_VALUE
    return CheckResult(
        claim="C5", statement=f"ratio {deep.name}/{shallow.name} of the valley drift per unit flow time over "
                              f"eta (c_v term): measured against derived",
        source=SOURCE, setting={"objective": "valley", "oracle": "reshuffle", "pair": f"{deep.name}/{shallow.name}",
                                "layers": f"{format_layers(deep.layers)} vs {format_layers(shallow.layers)}",
                                "m": deep.cycles * MLA(deep.layers).K,
                                "intercepts": [deep.intercept, shallow.intercept], "z": z},
        predicted=predicted, kind="equality", measured=ratio, interval=(low, high),
        verdict=_verdict(predicted, low, high, fit_ok),
        control=[equality_control(f"ratio 1: {deep.name} with {shallow.name}'s coefficient", 1.0, ratio, (low, high))],
        resolution=relative_resolution("the drift ratio", predicted, (low, high)))
