"""Exact worst cases of nested Lookahead over L-smooth functions (performance estimation, claim C7).

Setting. f: R^d -> R is L-smooth and not necessarily convex; the method is deterministic n-layer
nested Lookahead (THEORY.md), written as the algorithm is defined, not from the cycle lemma:

    S_0(x) = x - eta grad f(x),   S_i(phi) = phi + alpha_i (S_{i-1}^{k_i}(phi) - phi),   phi_{t+1} = S_n(phi_t).

A top-level iteration evaluates the gradient K = prod_i k_i times, first at phi_t. We take L = 1 and
Delta = 1 (``lr`` is eta L; every value below scales as L Delta).

Performance measures, over T top-level iterations:
- ``average``: (1/T) sum_{t<T} ||grad f(phi_t)||^2 subject to f(phi_0) - f(x) <= Delta at every point x
  where the method evaluates the gradient and at phi_T. f(phi_0) - f_low <= Delta implies these
  constraints, so this worst case is at least the one that C2 speaks of: a bound above it is
  certified for the whole class.
- ``min``: min_{t<=T} ||grad f(phi_t)||^2 subject to f(phi_0) - f(phi_T) <= Delta (PEPit's convention).

Performance estimation (Drori & Teboulle 2014) casts "the largest value of the measure over every
function of the class" as an optimisation over the finitely many triplets (x_i, g_i, f_i) that the
method sees. For L-smooth functions such triplets come from a function of the class if and only if,
for every ordered pair i != j (Taylor, Hendrickx & Glineur, "Exact worst-case performance of
first-order methods for composite convex optimization", SIAM J. Optim. 2017, Theorem 3.10),

    f_i - f_j >= -(L/4) ||x_i - x_j||^2 + (1/2) <g_i + g_j, x_i - x_j> + (1/(4L)) ||g_i - g_j||^2.

Every x_i is phi_0 minus a combination of the g_j, so the problem is a semidefinite program in the
Gram matrix of (phi_0, g_1, ..., g_N) and the values f_i, exact (tight) for any dimension d >= N + 1.
PEPit (Goujaud et al., "PEPit: computer-assisted worst-case analyses of first-order optimization
methods in Python", Math. Prog. Comp. 2024) builds it; Clarabel solves it, handed the conic program
directly (``pep_clarabel``, single-threaded: the same numbers on any machine load), or SCS through
cvxpy if Clarabel fails. The
SDP has N = T K + 1 points (phi_T is evaluated for its value) and N (N - 1) interpolation
constraints; its cost grows like N^4.5, hence ``MAX_POINTS``.

Bound compared (claim C2 with sigma = 0, theory/convergence.md (16)): if
2 L eta P K + L^2 eta^2 K (K - 1) <= 1, then (eta P K / 2) sum_{t<T} ||grad f(phi_t)||^2 <= f(phi_0) - f(phi_T),
so both measures are at most 2 Delta / (eta P K T) (min_{t<=T} <= average_{t<T}). An upper bound,
not tight: ``ratio`` = worst / bound says how loose.

Anchor: gradient descent (no layer) with step 1/L on ``min`` has the tight value (4/3) L Delta / N
(Taylor 2017, PhD thesis, p. 190; Abbaszadehpeivasti, de Klerk & Zamani 2021), PEPit's example
``wc_gradient_descent`` of ``examples/nonconvex_optimization``.

PEPit keeps global counters: ``worst_case`` builds and solves one problem at a time per process
(a lock, for the threads of a Dask worker and the local executor's second thread).
"""
from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeAlias

from tqdm import tqdm

from ._typing import Layers
from .spec import MLA, check_positive, format_layers, parse_layers
from .symbolic import convergence_bound, max_lr, step_condition

__all__ = ["MAX_POINTS", "METRICS", "SOLVERS", "check_points", "WorstCase", "CertifiedLR", "NestingData",
           "WorstCaseData", "WorstCasePreset", "NESTINGS", "PRESETS", "Judgement", "worst_case", "c2_bound",
           "anchor_value", "largest_certified_lr", "measure", "measure_nesting", "measure_anchors", "judge_point",
           "performance_problem", "tightness_table"]

MAX_POINTS = 61  # gradient evaluations T K + 1; about 30 s per SDP at 61 (the cost grows like N^4.5)
METRICS = ("average", "min")
SOLVERS = ("CLARABEL", "SCS")
MISSING = "worst_case requires the 'pep' extra: pip install mla-numeric[pep]"

LayersSpec: TypeAlias = str | Iterable[tuple[int, float]]  # [(k_1, alpha_1), ...] or "5:0.5,5:0.5"


@dataclass(frozen=True)
class WorstCase:
    """The worst case of one setting and the C2 bound (sigma = 0, Delta = 1, L = 1) next to it.

    ``value`` is PEPit's dual value, the bound that the solver's dual certificate proves (inf when
    the SDP is unbounded, NaN when both solvers failed: ``solver`` is then "none"); ``accuracy`` is
    max(|dual - primal value|, largest violation of a primal constraint), the absolute uncertainty
    on ``value`` (0 when unbounded). ``certified``: ``value`` is a solver's certificate, a solved
    SDP, or unboundedness certified exactly by the solver asked first outside the step condition.
    An "unbounded" that is inaccurate, that the fallback gives after a failure, or that contradicts
    C2's proof (within the step condition) is not: badly scaled SDPs give such answers (at
    eta L = 1e-9 Clarabel says "unbounded" for gradient descent, whose worst case is 1 / eta), and
    solving again with the average capped gave nothing better (a value at the cap, within the
    solvers' absolute tolerances). ``points`` counts
    gradient evaluations (the SDP's points); ``within_step_condition`` says whether C2's step
    condition holds at ``lr``. ``ratio`` and ``unbounded`` are derived fields (in ``asdict`` too).
    """

    layers: Layers
    lr: float
    T: int
    metric: str
    value: float
    bound: float
    solver: str
    status: str
    accuracy: float
    points: int
    within_step_condition: bool
    certified: bool = True
    ratio: float = field(init=False)  # worst / bound: below 1 when the bound holds, and how loose it is
    unbounded: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ratio", self.value / self.bound)
        object.__setattr__(self, "unbounded", math.isinf(self.value))


def c2_bound(layers: LayersSpec, lr: float, T: int) -> float:
    """C2's right-hand side at sigma = 0, Delta = 1, L = 1: 2 / (eta P K T), from ``symbolic``."""
    return convergence_bound(_as_layers(layers)).evaluate(eta=lr, L=1, sigma=0, Delta=1, T=T)


def anchor_value(steps: int) -> float:
    """Gradient descent, step 1/L, ``min`` measure: the tight worst case (4/3) L Delta / N."""
    return 4 / (3 * steps)


def _pepit() -> tuple[Any, Any, Any]:
    """(PEP, SmoothFunction, cvxpy): the optional 'pep' extra, untyped (Any) to mypy. PEP is
    ``pep_clarabel.ClarabelPEP``; its wrapper is registered with PEPit as ``_CLARABEL_WRAPPER``.
    """
    try:
        import cvxpy
        from PEPit.functions import SmoothFunction
        from PEPit.wrappers import WRAPPERS

        from .pep_clarabel import ClarabelPEP, ClarabelWrapper
    except ImportError:
        raise ImportError(MISSING) from None
    WRAPPERS[_CLARABEL_WRAPPER] = ClarabelWrapper
    return ClarabelPEP, SmoothFunction, cvxpy


_CLARABEL_WRAPPER = "mla_numeric.clarabel"  # a name of our own in PEPit's table of wrappers


def _as_layers(layers: LayersSpec) -> Layers:
    return MLA(parse_layers(layers) if isinstance(layers, str) else layers).layers


def worst_case(layers: LayersSpec, lr: float, T: int, metric: str = "average", solver: str = "CLARABEL"
               ) -> WorstCase:
    """The exact worst case over L-smooth functions of nested Lookahead (module docstring).

    Parameters
    ----------
    layers : sequence of (int, float) or str
        ``[(k_1, alpha_1), ...]``, innermost first, or the spelling ``"5:0.5,5:0.5"``; ``[]`` or
        ``"sgd"`` is gradient descent.
    lr : float
        eta L, at least ``MIN_LR_FRACTION`` of the step condition's (below, the SDP is too badly scaled
        for the solvers: its value grows like 1 / (eta L)). A step large enough makes the worst case
        unbounded (gradient descent: eta L >= 2); that is reported (``value`` inf, ``unbounded``),
        not an error. Near that edge, and at steps
        so small that the SDP is badly scaled (its value grows like 1 / (eta L)), the solvers can
        fail: then ``value`` is NaN, and a check says "inconclusive".
    T : int
        Top-level iterations, with T K + 1 <= ``MAX_POINTS``.
    metric : {"average", "min"}
    solver : {"CLARABEL", "SCS"}
        If it fails, the other one is tried and ``solver`` says so.

    Returns
    -------
    WorstCase
    """
    layers = _as_layers(layers)
    lr = check_positive("lr (eta L)", lr)
    smallest = MIN_LR_FRACTION * max_lr(math.prod(k for k, _ in layers), math.prod(a for _, a in layers), 1.0)
    if lr < smallest:
        raise ValueError(f"lr (eta L) must be at least {smallest:.3g} ({MIN_LR_FRACTION:g} of the step condition's "
                         f"eta L) for this nesting, got {lr:g}: below, the SDP is too badly scaled for the solvers")
    T = check_positive("T", T, integer=True)
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    check_points(layers, T)
    with _ONE_PROBLEM_AT_A_TIME:
        return _worst_case(layers, lr, T, metric, solver)


MIN_LR_FRACTION = 1e-3  # of the step condition's eta L: the SDPs of every preset nesting solve down to 1e-4

# PEPit keeps global state (PEP() resets its counters of points and constraints): one problem at
# a time in a process, whose threads (a Dask worker's, the local executor's second) may not.
_ONE_PROBLEM_AT_A_TIME = threading.Lock()


def check_points(layers: LayersSpec, T: int) -> None:
    """Raise ValueError unless the SDP of T top-level iterations has T K + 1 <= MAX_POINTS points."""
    K = math.prod(k for k, _ in _as_layers(layers))
    if T * K + 1 > MAX_POINTS:
        fix = (f"take T <= {(MAX_POINTS - 1) // K}" if K < MAX_POINTS
               else f"take a nesting with K = k_1 ... k_n <= {MAX_POINTS - 1}")
        raise ValueError(f"T K + 1 = {T * K + 1} gradient evaluations for T = {T}, K = {K}: the limit is "
                         f"{MAX_POINTS} (the SDP's cost grows like N^4.5: about 30 s at {MAX_POINTS}); {fix}")


def _worst_case(layers: Layers, lr: float, T: int, metric: str, solver: str) -> WorstCase:
    """``worst_case`` on checked arguments."""
    PEP, SmoothFunction, cvxpy = _pepit()
    problem, f = performance_problem(PEP, SmoothFunction, layers, lr, T, metric)
    used, status, value, accuracy = _solve(problem, solver, cvxpy)
    within = step_condition(layers).evaluate(eta=lr, L=1) <= 1
    certified = math.isfinite(value) or (status == "unbounded" and used == solver and not within)
    if used is None:
        used = "none"
    elif used != solver:
        used = f"{used} (after {solver} failed)"
    return WorstCase(layers, lr, T, metric, value, c2_bound(layers, lr, T), used, status, accuracy,
                     len(f.list_of_points), bool(within), certified)


def performance_problem(PEP: Any, SmoothFunction: Any, layers: Layers, lr: float, T: int, metric: str
                        ) -> tuple[Any, Any]:
    """(PEPit problem, its function f) of ``worst_case``, built with the classes PEP and SmoothFunction
    (the tests solve it with PEPit's own PEP too)."""
    problem = PEP()
    f = problem.declare_function(SmoothFunction, L=1.0)
    evaluated: list[Any] = []  # PEPit Points

    def run(level: int, phi: Any) -> Any:
        """S_level(phi): one fast step at level 0, else k steps of the level below and a sync."""
        if level == 0:
            evaluated.append(phi)
            return phi - lr * f.gradient(phi)
        k, alpha = layers[level - 1]
        fast = phi
        for _ in range(k):
            fast = run(level - 1, fast)
        return phi + alpha * (fast - phi)

    slow = [problem.set_initial_point()]
    for _ in range(T):
        slow.append(run(len(layers), slow[-1]))
    f0 = f.value(slow[0])
    if metric == "average":
        problem.set_performance_metric(sum(f.gradient(phi) ** 2 for phi in slow[:-1]) / T)
        for x in evaluated[1:] + [slow[-1]]:
            problem.set_initial_condition(f0 - f.value(x) <= 1)
    else:
        for phi in slow:
            problem.set_performance_metric(f.gradient(phi) ** 2)
        problem.set_initial_condition(f0 - f.value(slow[-1]) <= 1)
    return problem, f


def _solve(problem: Any, solver: str, cvxpy: Any) -> tuple[str | None, str, float, float]:
    """Solve with ``solver``, else the other one: (solver used or None, status, value, accuracy).

    Clarabel is called through ``pep_clarabel`` (one thread), SCS through cvxpy; the status is
    cvxpy's name for it ("optimal", "optimal_inaccurate", "unbounded", ...), each solver's when
    both fail (value NaN).
    """
    statuses = []
    for name in (solver,) + tuple(s for s in SOLVERS if s != solver):
        try:  # verbose=0: PEPit prints only its warnings (the CLI relays them; stdout is the process's)
            if name == "CLARABEL":
                dual = problem.solve(wrapper=_CLARABEL_WRAPPER, safe_mode=False, verbose=0, max_threads=1)
            else:
                dual = problem.solve(wrapper="cvxpy", solver=name, verbose=0, ignore_dpp=True)
        except (cvxpy.error.SolverError, ValueError) as error:  # ValueError: data beyond the double range
            statuses.append(f"{name}: {str(error).split('.')[0]}")
            continue
        wrapper = problem.wrapper
        status = wrapper.status if name == "CLARABEL" else wrapper.prob.status
        if status in ("unbounded", "unbounded_inaccurate"):
            return name, status, math.inf, 0.0
        if dual is None or status not in ("optimal", "optimal_inaccurate"):
            statuses.append(f"{name}: {status}")
            continue
        if name == "CLARABEL":
            primal, violation = wrapper.primal_value, wrapper.violation
        else:
            primal = float(wrapper.objective.value)
            violation = max(float(max(constraint.violation().max(), 0.0)) for constraint in wrapper.prob.constraints)
        return name, status, float(dual), max(abs(float(dual) - primal), violation)
    return None, ", ".join(statuses), math.nan, math.nan


class Judgement(NamedTuple):
    """Verdict of worst <= bound, and of the negative control worst <= bound / factor."""

    verdict: str
    control_bound: float
    control_verdict: str


def judge_point(value: float, bound: float, accuracy: float, control_factor: float) -> Judgement:
    """"holds" when value <= bound + accuracy (the solver's accuracy), "fails" otherwise
    ("inconclusive" without a value).

    The negative control is the same rule against bound / control_factor: a false bound wherever the
    worst case exceeds it, which the check must then reject ("fails") in the same run.
    """
    control_factor = check_positive("control_factor", control_factor)
    if control_factor <= 1:
        raise ValueError(f"control_factor must be > 1 (the control is a smaller, false bound), got {control_factor}")
    control = bound / control_factor
    return Judgement(_verdict(value, bound, accuracy), control, _verdict(value, control, accuracy))


def _verdict(value: float, limit: float, accuracy: float) -> str:
    """"inconclusive" when the solvers gave no value (NaN)."""
    return "inconclusive" if math.isnan(value) else "holds" if value <= limit + accuracy else "fails"


@dataclass(frozen=True)
class CertifiedLR:
    """The largest eta at which the ``average`` worst case at T stays below ``target`` = C2's bound at
    the step condition's eta (``step_lr``); ``trials`` are the SDPs of the bisection."""

    layers: Layers
    T: int
    step_lr: float
    target: float
    lr: float
    trials: tuple[WorstCase, ...]
    gain: float = field(init=False)  # certified eta / step condition's eta

    def __post_init__(self) -> None:
        object.__setattr__(self, "gain", self.lr / self.step_lr)


def largest_certified_lr(layers: LayersSpec, T: int, rtol: float = 0.05, solver: str = "CLARABEL",
                         at_step_lr: WorstCase | None = None) -> CertifiedLR:
    """Bisection for the largest eta with worst(eta) <= 2 / (eta_s P K T), eta_s = the step condition's eta.

    C2 certifies worst(eta_s) <= target. The bracket doubles eta from eta_s until the worst case
    exceeds the target (it ends: for large eta, f = L x^2 / 2 drives every visited point away from
    phi_0, f(x) >= f(phi_0), and the worst case is unbounded), then a geometric bisection narrows
    it to hi / lo <= 1 + rtol. It assumes one crossing (the worst case first falls with eta, then
    blows up). A step whose SDP the solvers cannot answer is not certified. ``lr`` is NaN if the
    bound is not certified at eta_s (a C2 failure, or no answer). ``at_step_lr`` reuses the
    ``average`` SDP at (eta_s, T) if already solved.
    """
    layers = _as_layers(layers)
    rtol = check_positive("rtol", rtol)
    K, P = math.prod(k for k, _ in layers), math.prod(a for _, a in layers)
    step_lr = max_lr(K, P, 1.0)
    target = c2_bound(layers, step_lr, T)
    if at_step_lr is not None and (at_step_lr.layers, at_step_lr.lr, at_step_lr.T, at_step_lr.metric) != (
            layers, step_lr, T, "average"):
        raise ValueError("at_step_lr must be the 'average' worst case of these layers at the step condition's "
                         f"eta {step_lr:g} and T = {T}")
    trials: list[WorstCase] = []

    def below(result: WorstCase) -> bool:
        trials.append(result)
        return _verdict(result.value, target, result.accuracy) == "holds"

    if not below(at_step_lr or worst_case(layers, step_lr, T, "average", solver)):
        return CertifiedLR(layers, T, step_lr, target, math.nan, tuple(trials))
    lo, hi = step_lr, 2 * step_lr
    while below(worst_case(layers, hi, T, "average", solver)):
        lo, hi = hi, 2 * hi
    while hi / lo > 1 + rtol:
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if below(worst_case(layers, mid, T, "average", solver)) else (lo, mid)
    return CertifiedLR(layers, T, step_lr, target, lo, tuple(trials))


NESTINGS = ("sgd", "2:0.5", "5:0.5", "2:0.5,2:0.5", "3:0.5,2:0.5")  # every preset adds a three-layer nesting


@dataclass(frozen=True)
class WorstCasePreset:
    """The C7 run: nestings (spelled like ``--layers``), step sizes as fractions of the step
    condition's eta, and SDP sizes in gradient evaluations (points).

    Each nesting's eta sweep and bisection use the largest T with T K + 1 <= ``sweep_points`` (at
    least 1); its horizon sweep runs T = 1, 2, 4, ... and the largest T with T K + 1 <= ``max_points``,
    at the step condition's eta. ``anchor_steps``: gradient descent's anchor for N = 1..anchor_steps.
    ``control_factor``: the negative control judges the worst case against bound / control_factor
    (every ratio worst / bound measured is above 0.16, so 10 is rejected everywhere).
    """

    nestings: tuple[str, ...] = NESTINGS + ("3:0.5,2:0.5,2:0.5",)
    lr_fractions: tuple[float, ...] = (0.25, 0.5, 1.0)
    sweep_points: int = 9
    max_points: int = 21
    anchor_steps: int = 8
    rtol: float = 0.05
    control_factor: float = 10.0
    solver: str = "CLARABEL"


# Measured on 2 idle cores with Clarabel called directly: default 4.8 s; full 217 s (31-42 s a
# nesting, 27 s of it the 61-point SDP of its horizon sweep). The bisection's SDPs (sweep_points)
# cost the most at default.
PRESETS = {
    "quick": WorstCasePreset(nestings=NESTINGS + ("2:0.5,2:0.5,2:0.5",), lr_fractions=(0.5, 1.0), sweep_points=9,
                             max_points=13, anchor_steps=4, rtol=0.1),
    "default": WorstCasePreset(),
    "full": WorstCasePreset(nestings=NESTINGS + ("5:0.5,5:0.5",), lr_fractions=(0.125, 0.25, 0.5, 0.75, 1.0),
                            sweep_points=25, max_points=MAX_POINTS, rtol=0.01),
}


@dataclass(frozen=True)
class NestingData:
    """One nesting: the eta sweep at T = ``sweep[0].T``, the horizon sweep at the step condition's
    eta, and the certified step size."""

    spec: str
    K: int
    P: float
    step_lr: float
    sweep: tuple[WorstCase, ...]
    horizon: tuple[WorstCase, ...]
    certified: CertifiedLR


@dataclass(frozen=True)
class WorstCaseData:
    """The whole C7 data: one ``NestingData`` per nesting, and the gradient-descent anchors
    (``min`` measure, step 1/L, N = 1..anchor_steps; predicted ``anchor_value(N)``)."""

    preset: WorstCasePreset
    nestings: tuple[NestingData, ...]
    anchors: tuple[WorstCase, ...]


def _horizons(K: int, max_points: int) -> list[int]:
    largest = max(1, (max_points - 1) // K)
    return sorted({2 ** i for i in range(largest.bit_length()) if 2 ** i <= largest} | {largest})


def measure_nesting(spec: LayersSpec, preset: WorstCasePreset) -> NestingData:
    """One nesting's SDPs (a work unit): the eta sweep, the horizon sweep and the bisection."""
    layers = _as_layers(spec)
    K, P = math.prod(k for k, _ in layers), math.prod(a for _, a in layers)
    step_lr = max_lr(K, P, 1.0)
    T = max(1, (preset.sweep_points - 1) // K)
    sweep = tuple(worst_case(layers, fraction * step_lr, T, "average", preset.solver)
                  for fraction in preset.lr_fractions)
    at_step = next((w for w, fraction in zip(sweep, preset.lr_fractions, strict=True) if fraction == 1.0), None)
    horizon = tuple(at_step if at_step is not None and t == T else
                    worst_case(layers, step_lr, t, "average", preset.solver)
                    for t in _horizons(K, preset.max_points))
    certified = largest_certified_lr(layers, T, preset.rtol, preset.solver, at_step)
    return NestingData(format_layers(layers), K, P, step_lr, sweep, horizon, certified)


def measure_anchors(preset: WorstCasePreset) -> tuple[WorstCase, ...]:
    """Gradient descent, step 1/L, ``min`` measure, N = 1..anchor_steps (predicted: ``anchor_value``)."""
    return tuple(worst_case([], 1.0, N, "min", preset.solver) for N in range(1, preset.anchor_steps + 1))


def measure(preset: WorstCasePreset, progress: bool | None = None) -> WorstCaseData:
    """All the SDPs of claim C7 for ``preset``, nesting by nesting (deterministic: no seed).

    ``progress``: a bar over the nestings; None shows it on a terminal only (tqdm's disable=None).
    """
    nestings = tuple(measure_nesting(spec, preset) for spec in tqdm(
        preset.nestings, desc="worst cases", leave=False, disable=None if progress is None else not progress))
    return WorstCaseData(preset, nestings, measure_anchors(preset))


def tightness_table(data: WorstCaseData) -> tuple[tuple[str, ...], list[list[object]]]:
    """(header, rows), one row per nesting, plain numbers: the ratio worst / bound at the step
    condition's eta, its range over the eta sweep and over the horizons, and the certified eta."""
    header = ("nesting", "K", "P", "T", "step condition eta L", "ratio at it", "ratio min over eta",
              "ratio max over eta", "largest T", "ratio min over T", "ratio max over T", "certified eta L",
              "certified / step condition")
    rows: list[list[object]] = []
    for n in data.nestings:
        sweep, horizon = [w.ratio for w in n.sweep], [w.ratio for w in n.horizon]
        rows.append([n.spec, n.K, n.P, n.sweep[0].T, n.step_lr, n.certified.trials[0].ratio, min(sweep), max(sweep),
                     n.horizon[-1].T, min(horizon), max(horizon), n.certified.lr, n.certified.gain])
    return header, rows
