"""Claim C5: does nesting amplify the implicit regularization? Derived coefficients and valley drift.

Setting
    Random reshuffling, m = N K minibatches an epoch; Lookahead (k, alpha) against SGD and two-layer
    MLA (k, alpha), (k, alpha) against that Lookahead, on maps over k and alpha and at the paper's
    (5, 0.5) on the valley objective (m = ``VALLEY_M``), where the drift is measured.
Claim
    The deeper optimizer's coefficient (c_g or c_v of the modified loss) is positive and larger than
    the shallower one's under a framing (below).
Source
    Pushkin & Barba (2021), claim P2; coefficients from THEORY.md C4.
How it is decided
    Rule ``ratio`` for the claim rows (derived coefficients; for c_v the measured drift ratio must lie
    surely on the same side); rule ``equality`` for the drift and drift-ratio rows (valley_drift.py),
    normal intervals with Bonferroni over the rows checked together, family-wise error 5 %.
Work units
    The derived maps and table; each optimizer's drift at each eta by chunks of
    ``REPLICATES_PER_UNIT`` replicates (replicate r draws from the stream keyed by (seed, r), so
    the chunks concatenate to the run of all replicates).
Negative control
    Matched, in every claim row: derived, the same pair, coefficient, framing, k and m at alpha = 1,
    where both optimizers are SGD and must not amplify; measured, ratio 1 (the deeper optimizer
    with the shallower one's coefficient), which the drift ratio's interval must exclude. Tests: a
    derivation that amplifies at alpha = 1 leaves a "holds" inconclusive; Lookahead's drift
    predicted with SGD's coefficient fails; a wrong drift ratio fails (tests/test_amplification.py,
    tests/test_valley_drift.py).
Example
    >>> from mla_numeric.checks.amplification import framed_ratio
    >>> float(framed_ratio("LA/SGD", "c_v", "same-flow", 5, 0.5, 50)[0]) > 1
    True


The modified loss of a reshuffled epoch is f + c_g ||grad f||^2 + c_v V (claims C3, C4), with
c_g, c_v = eta times a function of the layers and of N, the top-level cycles per epoch
(``symbolic.reshuffled_coefficients``). "Amplifies" compares a deeper optimizer with a shallower
one on the same data (the same m = N K minibatches an epoch), but the answer depends on what is
held equal. Write c(eta) = eta c~ and let P be the product of the alphas. Framings:

- ``same-lr``: the same inner eta. Ratio c~_deep / c~_shallow. This is how Lookahead is used.
- ``same-flow``: the same effective rate eta P, i.e. the same flow time per oracle call and so the
  same first-order progress on f. eta_deep = eta P_shallow / P_deep, ratio (c~_deep / P_deep) /
  (c~_shallow / P_shallow).
- ``same-calls``: the same inner eta and the same number of oracle calls; the push of the
  regularizer accumulated over that budget is c times the flow time eta P per call, ratio
  (c~_deep P_deep) / (c~_shallow P_shallow). It is what moves a run along a valley of minima,
  where f itself is flat.

The claim holds at a point when the deeper optimizer's coefficient is positive and larger than
the shallower one's under that framing; a negative coefficient anti-regularizes (the modified
loss rewards a large ||grad f||), so a ratio above 1 between two negative coefficients is not an
amplification. Pairs compared: Lookahead (k, alpha) against SGD, and two-layer MLA
(k, alpha), (k, alpha) against that Lookahead; the functions also take any depth n against n - 1
(``pair_name(n)``, e.g. "MLA-3/MLA"), as ``mla-check sweep C5`` does.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, TypeAlias

import numpy as np
import sympy as sp
from numpy.typing import ArrayLike, NDArray

from .._typing import JSON, FloatArray, Layers
from ..objectives import valley
from ..spec import check_positive, format_layers
from ..symbolic import ETA, N_CYCLES, Formula, reshuffled_coefficients
from . import stats
from .group import CheckGroup, Claim, Document, Figure, Table, Work
from .result import CheckResult, Control, Resolution
from .valley_drift import (
    DRIFT_RULE,
    DriftSweep,
    check_drift,
    check_drift_ratio,
    drift_epochs,
    drift_rates,
    drift_ratio,
    drift_result,
    drift_sweep,
    run_seed,
    z_quantile,
)

__all__ = ["FRAMINGS", "PAIRS", "COEFFICIENTS", "depth_of", "nesting_name", "pair_name", "coefficients",
           "framed_ratio", "amplifies", "amplification_map", "paper_table", "check_amplification", "drift_sweeps",
           "derived", "AmplificationPreset", "GROUP"]

FRAMINGS = {
    "same-lr": "the same inner eta",
    "same-flow": "the same effective rate eta P (flow time per oracle call)",
    "same-calls": "the same inner eta and number of oracle calls (regularizer push per call)",
}
PAIRS = {"LA/SGD": ("LA", "SGD"), "MLA/LA": ("MLA", "LA")}
COEFFICIENTS = {"c_g": "gradient-norm term ||grad f||^2", "c_v": "minibatch-variance term V"}
_POWER = {"same-lr": 0, "same-flow": -1, "same-calls": 1}  # ratio of c~ times P_deep^p / P_shallow^p
_k, _alpha, _m = sp.symbols("k alpha m", positive=True)
# ``amplification_map``: "k", "alpha" (the grid), "ratio", "c_deep", "c_shallow" (float arrays over it),
# "amplifies" (a bool array) and "cycles" (an int)
AmplificationMap: TypeAlias = dict[str, Any]
Maps: TypeAlias = dict[str, dict[tuple[str, str, int], AmplificationMap]]  # framing -> {(pair, coefficient, N): map}


def depth_of(name: str) -> int:
    """Layers of optimizer ``name``: SGD 0, LA 1, MLA 2, MLA-n n (each layer (k, alpha))."""
    named = {"SGD": 0, "LA": 1, "MLA": 2}
    if name in named:
        return named[name]
    if name.startswith("MLA-") and name[4:].isdigit() and int(name[4:]) >= 1:
        return int(name[4:])
    raise ValueError(f"optimizer must be SGD, LA, MLA or MLA-n, got {name!r}")


def nesting_name(depth: int) -> str:
    """The name of the optimizer with ``depth`` layers (k, alpha): SGD, LA, MLA, MLA-3, ..."""
    return ("SGD", "LA", "MLA")[depth] if depth < 3 else f"MLA-{depth}"


def pair_name(depth: int) -> str:
    """The pair of the optimizer with ``depth`` >= 1 layers against the one with a layer less, e.g. "MLA/LA"."""
    return f"{nesting_name(depth)}/{nesting_name(depth - 1)}"


def _pair_depths(pair: str) -> tuple[int, int]:
    deep, _, shallow = pair.partition("/")
    depths = depth_of(deep), depth_of(shallow)
    if depths[0] != depths[1] + 1:
        raise ValueError(f"a pair compares an optimizer with the one a layer shallower, got {pair!r}")
    return depths


@cache
def _derived(layers_count: int) -> tuple[Formula, Formula, Formula]:
    """(c~_g, c~_v, P) of the optimizer with ``layers_count`` layers (k, alpha) as formulas in k,
    alpha and m = N K."""
    layers = [(_k, _alpha)] * layers_count
    K = sp.Mul(*[k for k, _ in layers])
    c_g, c_v = reshuffled_coefficients(layers, N_CYCLES)
    scaled_g, scaled_v = (Formula(sp.simplify((c.expr / ETA).subs(N_CYCLES, _m / K))) for c in (c_g, c_v))
    return scaled_g, scaled_v, Formula(sp.Mul(*[alpha for _, alpha in layers]))


def coefficients(name: str, k: ArrayLike, alpha: ArrayLike, m: ArrayLike) -> dict[str, FloatArray]:
    """c~_g, c~_v (coefficients over eta) and P for ``name`` in SGD, LA, MLA, MLA-n, with each layer
    (k, alpha) and m minibatches an epoch (arrays broadcast). c~_v is NaN at m = 1 (V = 0)."""
    layers_count = depth_of(name)
    k, alpha, m = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (k, alpha, m)))
    zero = np.zeros(k.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        c_g, c_v, P = (formula.numpy(k=k, alpha=alpha, m=m) + zero for formula in _derived(layers_count))
    return {"c_g": c_g, "c_v": np.where(m > 1, c_v, np.nan), "P": P}


def framed_ratio(pair: str, coefficient: str, framing: str, k: ArrayLike, alpha: ArrayLike, m: ArrayLike
                 ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(ratio, c_deep, c_shallow): the deeper optimizer's coefficient against the shallower one's
    under ``framing``, each scaled to that framing (c~ P^p, p = 0, -1, +1). ``pair``: one of PAIRS,
    or any "deeper/shallower" pair of names (``pair_name(depth)``)."""
    if coefficient not in COEFFICIENTS or framing not in FRAMINGS:
        raise ValueError(f"coefficient must be in {list(COEFFICIENTS)}, framing in {list(FRAMINGS)}; "
                         f"got {coefficient!r}, {framing!r}")
    power = _POWER[framing]
    deep, shallow = (coefficients(nesting_name(d), k, alpha, m) for d in _pair_depths(pair))
    c_deep = deep[coefficient] * deep["P"] ** power
    c_shallow = shallow[coefficient] * shallow["P"] ** power
    with np.errstate(divide="ignore", invalid="ignore"):
        return c_deep / c_shallow, c_deep, c_shallow


AMPLIFICATION_TOLERANCE = 1e-9  # relative: equal coefficients (e.g. k = 1) differ by rounding only
C5 = Claim("C5", "Amplification of the implicit regularization",
           "a deeper optimizer's modified-loss coefficient is positive and larger than a shallower one's",
           "Pushkin & Barba (2021), claim P2", "ratio",
           "ratios of the derived coefficients, deeper over shallower optimizer, under three framings (same "
           "inner eta, same effective rate eta P, same eta and oracle calls); claim rows: "
           f"{stats.RULES['ratio']} (relative tolerance {AMPLIFICATION_TOLERANCE:g} for equal coefficients); "
           f"rows on the measured drift along a valley of minima, extrapolated to eta -> 0, check the "
           f"prediction: {DRIFT_RULE}")


def amplifies(c_deep: FloatArray | float, c_shallow: FloatArray | float) -> NDArray[np.bool_] | np.bool_:
    """The claim at a point: the deeper coefficient is positive and above the shallower one (by more
    than rounding)."""
    return (c_deep > 0) & (c_deep > c_shallow + AMPLIFICATION_TOLERANCE * np.abs(c_shallow))


def amplification_map(pair: str, coefficient: str, framing: str, ks: ArrayLike = range(1, 21),
                      alphas: ArrayLike | None = None, cycles: int = 1) -> AmplificationMap:
    """Ratio, coefficients and verdicts over the grid k x alpha, with ``cycles`` top-level cycles
    of the deeper optimizer per epoch (m = cycles k^depth; the shallower one sees the same m)."""
    cycles = check_positive("cycles", cycles, integer=True)
    alphas = np.linspace(0.05, 1.0, 39) if alphas is None else np.asarray(alphas, dtype=float)
    if np.any((alphas <= 0) | (alphas > 1)):
        raise ValueError("alphas must lie in (0, 1]")
    k, alpha = np.meshgrid(np.asarray(ks, dtype=float), alphas, indexing="ij")
    deeper = _pair_depths(pair)[0]
    ratio, c_deep, c_shallow = framed_ratio(pair, coefficient, framing, k, alpha, cycles * k ** deeper)
    return {"k": k, "alpha": alpha, "ratio": ratio, "c_deep": c_deep, "c_shallow": c_shallow,
            "amplifies": amplifies(c_deep, c_shallow), "cycles": cycles}


PAPER_CONFIGURATIONS = ((5, 0.5), (10, 0.5), (5, 0.8), (2, 0.5))  # (k, alpha) per layer


def paper_table(configurations: Iterable[tuple[int, float]] = PAPER_CONFIGURATIONS,
                cycles: Sequence[int] = (1, 2, 10)) -> list[JSON]:
    """One row per (k, alpha, N, pair, coefficient, framing): ratio, both coefficients, verdict."""
    rows = []
    for k, alpha in configurations:
        for N in cycles:
            for pair in PAIRS:
                m = N * k ** (2 if pair == "MLA/LA" else 1)
                for coefficient in COEFFICIENTS:
                    for framing in FRAMINGS:
                        ratio, deep, shallow = (float(v) for v in framed_ratio(pair, coefficient, framing, k, alpha, m))
                        rows.append({"k": k, "alpha": alpha, "N": N, "m": m, "pair": pair,
                                     "coefficient": coefficient, "framing": framing, "ratio": ratio,
                                     "c_deep": deep, "c_shallow": shallow,
                                     "amplifies": bool(amplifies(deep, shallow))})
    return rows


def check_amplification(pair: str, coefficient: str, framing: str, k: int, alpha: float, m: int,
                        measured: tuple[float, float, float] | None = None) -> CheckResult:
    """The claim at (k, alpha, m) under ``framing``, from the derived coefficients and, for c_v,
    from ``measured`` = (ratio, stderr, z): the valley drift ratio deep / shallow at the same inner
    eta (``valley_drift.drift_ratio``) and the interval's quantile.

    The measured ratio is scaled to the framing like the coefficients, (P_deep / P_shallow)^p. It
    says "amplifies" when it is surely above 1 (c_shallow > 0) or surely negative (c_shallow < 0:
    then c_deep > 0), and "does not" when surely on the other side. Holds or fails when derivation
    and measurement agree; inconclusive when the measurement cannot tell or disagrees.
    """
    ratio, deep, shallow = (float(v) for v in framed_ratio(pair, coefficient, framing, k, alpha, m))
    claim = bool(amplifies(deep, shallow))
    low = high = measured_ratio = math.nan
    verdict = stats.ratio_verdict(claim)
    # The matched control, derived: the same pair, coefficient, framing, k and m at alpha = 1, where
    # both optimizers are SGD and the ratio is 1 (no amplification), through the same derivation and
    # rule; a derivation that amplifies there is wrong, and then a "holds" is inconclusive.
    _, sgd_deep, sgd_shallow = (float(v) for v in framed_ratio(pair, coefficient, framing, k, 1.0, m))
    sgd_ratio = sgd_deep / sgd_shallow
    control = Control("alpha = 1, where both are SGD (ratio 1, no amplification)", 1.0, sgd_ratio,
                      (math.nan, math.nan), stats.ratio_verdict(bool(amplifies(sgd_deep, sgd_shallow)))
                      if math.isfinite(sgd_ratio) else "inconclusive")
    resolution = Resolution("relative difference of the coefficients (exact arithmetic, rounding tolerance)",
                            AMPLIFICATION_TOLERANCE)
    if measured is not None:
        if coefficient != "c_v":
            raise ValueError("the valley drift measures the c_v term only; pass measured=None for c_g")
        powers = [coefficients(nesting_name(d), k, alpha, m)["P"] ** _POWER[framing] for d in _pair_depths(pair)]
        value, stderr, z = measured
        scale = float(powers[0] / powers[1])
        measured_ratio, low, high = value * scale, (value - z * stderr) * scale, (value + z * stderr) * scale
        surely = (low > 1, high < 1) if shallow > 0 else (high < 0, low > 0)
        verdict = stats.ratio_verdict(claim, *surely)
        control = Control("the shallower optimizer's coefficient for the deeper one (ratio 1)", 1.0, measured_ratio,
                          (low, high), "inconclusive" if low <= 1 <= high else "fails")
        prediction = stats.equality_verdict(ratio, low, high)
        resolution = Resolution("ratio deep / shallow (interval width)", high - low)
    deeper, shallower = pair.split("/")
    measured_setting = {} if measured is None else {"prediction_verdict": prediction}
    note = ""
    if not (math.isfinite(deep) and math.isfinite(shallow)):  # c_v at m = 1
        verdict, note = "inconclusive", f"{coefficient} is undefined with m = {m} minibatch an epoch (V = 0)"
    return CheckResult(
        claim="C5", statement=f"{deeper} amplifies {shallower}'s implicit regularization "
                              f"({COEFFICIENTS[coefficient]}) under {FRAMINGS[framing]}",
        source=C5.source,
        setting={"objective": "valley" if measured is not None else "derived coefficients",
                 "oracle": "reshuffle" if measured is not None else None,
                 "pair": pair, "coefficient": coefficient, "framing": framing, "k": k, "alpha": alpha,
                 "m": m, "layers": _pair_layers(pair, k, alpha), "c_deep_over_eta": deep,
                 "c_shallow_over_eta": shallow, "sign_change": bool(deep * shallow < 0),
                 "evidence": "valley drift" if measured is not None else "derived coefficients (C3/C4 check them)",
                 **measured_setting},
        predicted=ratio, kind="ratio", measured=measured_ratio, interval=(low, high), verdict=verdict,
        control=[control], resolution=resolution, note=note)


def _pair_layers(pair: str, k: int, alpha: float) -> str:
    return " vs ".join(format_layers([(k, alpha)] * d) for d in _pair_depths(pair))


# ---- the group: `mla-check amplification`, the report, simulations/implicit_regularization.py --

VALLEY_M = 50       # minibatches an epoch: whole cycles for SGD (N = 50), LA (10) and MLA (2)
PAPER_LAYER = (5, 0.5)
MAP_CYCLES = (1, 10)


@dataclass(frozen=True)
class AmplificationPreset:
    """The valley drift's etas and replicates; the valley's m, the layer and the maps' N."""

    lrs: tuple[float, ...]
    replicates: int
    m: int = VALLEY_M
    layer: tuple[int, float] = PAPER_LAYER
    map_cycles: tuple[int, ...] = MAP_CYCLES


PRESETS = {
    "quick": AmplificationPreset(tuple(np.geomspace(0.001, 0.016, 5)), 400),
    "default": AmplificationPreset(tuple(np.geomspace(0.001, 0.016, 6)), 2000),
    "full": AmplificationPreset(tuple(np.geomspace(0.0005, 0.016, 8)), 20000),
}


def _nestings(preset: AmplificationPreset) -> tuple[tuple[str, Layers], ...]:
    return ("SGD", ()), ("LA", (preset.layer,)), ("MLA", (preset.layer, preset.layer))


def drift_sweeps(preset: AmplificationPreset, seed: int = 0, progress: bool | None = None) -> dict[str, DriftSweep]:
    """The valley drift y(eta) of SGD, Lookahead (k, alpha) and MLA (k, alpha), (k, alpha)."""
    objective = valley(2, 0, m=preset.m)
    return {name: drift_sweep(objective, name, layers, preset.lrs, preset.replicates, seed=run_seed(seed, index),
                              progress=progress)
            for index, (name, layers) in enumerate(_nestings(preset))}


def derived(map_cycles: Sequence[int] = MAP_CYCLES) -> tuple[Maps, list[JSON]]:
    """(maps, table): ``amplification_map`` per framing, pair, coefficient and N of ``map_cycles``,
    and ``paper_table()``."""
    maps = {framing: {(pair, coefficient, cycles): amplification_map(pair, coefficient, framing, cycles=cycles)
                      for pair in PAIRS for coefficient in COEFFICIENTS for cycles in map_cycles}
            for framing in FRAMINGS}
    return maps, paper_table()


@dataclass
class AmplificationData:
    preset: AmplificationPreset
    maps: Maps                     # framing -> {(pair, coefficient, cycles): amplification_map}
    table: list[JSON]              # paper_table()
    sweeps: dict[str, DriftSweep]  # name -> DriftSweep


REPLICATES_PER_UNIT = 500  # drift replicates per work unit


# Work units: ("derived", map_cycles), or ("drift", m, optimizer name, layers, epochs, replicates, seed)
DerivedUnit: TypeAlias = tuple[Literal["derived"], tuple[int, ...]]
DriftUnit: TypeAlias = tuple[Literal["drift"], int, str, Layers, int, range, int]
Unit: TypeAlias = DerivedUnit | DriftUnit


def units(preset: AmplificationPreset, seed: int = 0) -> list[Unit]:
    """Work units: the derived maps and table; the drift of each optimizer at each eta, by chunks of
    REPLICATES_PER_UNIT replicates, each eta with the streams of ``drift_sweeps``."""
    return [("derived", preset.map_cycles), *_drift_units(preset, seed)]


def _drift_units(preset: AmplificationPreset, seed: int) -> list[DriftUnit]:
    """The drift units of ``units``, in order."""
    objective = valley(2, 0, m=preset.m)
    chunks = [range(start, min(start + REPLICATES_PER_UNIT, preset.replicates))
              for start in range(0, preset.replicates, REPLICATES_PER_UNIT)]
    return [("drift", preset.m, name, layers, int(epochs), chunk, run_seed(run_seed(seed, index), point))
            for index, (name, layers) in enumerate(_nestings(preset))
            for point, epochs in enumerate(drift_epochs(objective, layers, preset.lrs)) for chunk in chunks]


def run_unit(unit: Unit) -> tuple[Maps, list[JSON]] | FloatArray:
    """One unit of ``units``: the derived maps and table, or one chunk of drift rates."""
    if unit[0] == "derived":
        return derived(unit[1])
    _, m, name, layers, epochs, replicates, seed = unit
    return drift_rates(valley(2, 0, m=m), name, layers, epochs, replicates, seed=seed)


def combine(preset: AmplificationPreset, seed: int, results: list[Any]) -> AmplificationData:
    """The units' results as AmplificationData: each eta's chunks concatenated in replicate order."""
    objective = valley(2, 0, m=preset.m)
    rates: dict[str, dict[int, list[FloatArray]]] = {}
    for unit, result in zip(_drift_units(preset, seed), results[1:], strict=True):
        rates.setdefault(unit[2], {}).setdefault(unit[4], []).append(result)
    sweeps = {name: drift_result(objective, name, layers, list(rates[name]),
                                 [np.concatenate(chunks) for chunks in rates[name].values()])
              for name, layers in _nestings(preset)}
    maps, table = results[0]
    return AmplificationData(preset, maps, table, sweeps)


measure = Work(units, run_unit, combine)  # measure(preset, seed, progress) -> AmplificationData


def judge(data: AmplificationData) -> list[CheckResult]:
    """Each optimizer's drift, the drift ratio per pair, and the claim per pair, coefficient and
    framing at the preset's layer."""
    sweeps, (k, alpha), m = data.sweeps, data.preset.layer, data.preset.m
    z = z_quantile(len(sweeps) + len(PAIRS))  # the intervals checked together: drifts and ratios
    drift = [check_drift(sweep, z) for sweep in sweeps.values()]
    pairs = {pair: (sweeps[deep], sweeps[shallow]) for pair, (deep, shallow) in PAIRS.items()}
    ratios = [check_drift_ratio(*pairs[pair], z, float(framed_ratio(pair, "c_v", "same-lr", k, alpha, m)[0]))
              for pair in PAIRS]
    claims = [check_amplification(pair, coefficient, framing, k, alpha, m,
                                  (*drift_ratio(*pairs[pair]), z) if coefficient == "c_v" else None)
              for pair in PAIRS for coefficient in COEFFICIENTS for framing in FRAMINGS]
    return drift + ratios + claims


def artifacts(data: AmplificationData, results: list[CheckResult]) -> list[Figure | Table | Document]:
    """A heatmap per framing and the map as CSV, the paper table, the drift figure and CSV, the checks."""
    from ..plotting import amplification_figure, drift_figure

    map_rows = [[framing, pair, coefficient, grid["cycles"], int(k), alpha, ratio, deep, shallow, bool(amp)]
                for framing, grids in data.maps.items() for (pair, coefficient, _), grid in grids.items()
                for k, alpha, ratio, deep, shallow, amp in zip(*(grid[key].ravel() for key in (
                    "k", "alpha", "ratio", "c_deep", "c_shallow", "amplifies")), strict=True)]
    drifts = [check for check in results if "optimizer" in check.setting]  # check_drift's
    predicted = [check.predicted for check in drifts if check.predicted is not None]
    assert len(predicted) == len(drifts)  # check_drift always predicts
    z = drifts[0].setting["z"]
    files: list[Figure | Table | Document] = [
        Figure(f"amplification_{framing}.png", functools.partial(amplification_figure, grids, framing))
        for framing, grids in data.maps.items()]
    files += [Table("amplification_map.csv", ("framing", "pair", "coefficient", "N", "k", "alpha", "ratio",
                                              "c_deep_over_eta", "c_shallow_over_eta", "amplifies"), map_rows),
              Document("amplification_table.json", data.table),
              Figure("valley_drift.png", lambda path: drift_figure(
                  list(data.sweeps.values()), predicted, z, path)),
              Table("valley_drift.csv", ("optimizer", "layers", "lr", "y_mean", "y_stderr"),
                    [[s.name, format_layers(s.layers), lr, y, e] for s in data.sweeps.values()
                     for lr, y, e in zip(s.lrs, s.rates, s.stderr, strict=True)]),
              Document("amplification.json", results)]
    for check in results:  # a claim row points to its framing's map first, a drift row to the drift
        framing = check.setting.get("framing")
        check.figures = ["valley_drift.png"] + ([f"amplification_{framing}.png"] if framing in FRAMINGS else [])
        check.figures = check.figures[::-1] if "coefficient" in check.setting else check.figures
        check.data = ["valley_drift.csv", "amplification_map.csv", "amplification_table.json", "amplification.json"]
    return files


GROUP = CheckGroup(
    name="amplification", claims=(C5,), presets=PRESETS, measure=measure, judge=judge, artifacts=artifacts,
    cost=5.0, summary="claim C5: where nesting amplifies the implicit regularization, by framing",
    description="Ratios of the derived coefficients c_g and c_v (deeper over shallower) under three framings (same "
                "eta, same eta P, same eta and oracle calls), as heatmaps over k and alpha and a table, confirmed "
                "by the measured drift along a valley of minima.",
    full_help="more etas and 20000 replicates")
