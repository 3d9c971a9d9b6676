"""Claim C5 from the derived coefficients: does nesting amplify the implicit regularization?

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
(k, alpha), (k, alpha) against that Lookahead.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import sympy as sp

from ..files import write_csv, write_json
from ..objectives import valley
from ..spec import check_positive, format_layers
from ..symbolic import ETA, N_CYCLES, Formula, reshuffled_coefficients
from .result import CheckResult
from .valley_drift import check_drift, check_drift_ratio, drift_ratio, drift_sweep, run_seed, z_quantile

__all__ = ["FRAMINGS", "PAIRS", "COEFFICIENTS", "coefficients", "framed_ratio", "amplifies",
           "amplification_map", "paper_table", "check_amplification", "drift_sweeps",
           "run_amplification_checks", "SIZES"]

FRAMINGS = {
    "same-lr": "the same inner eta",
    "same-flow": "the same effective rate eta P (flow time per oracle call)",
    "same-calls": "the same inner eta and number of oracle calls (regularizer push per call)",
}
PAIRS = {"LA/SGD": ("LA", "SGD"), "MLA/LA": ("MLA", "LA")}
COEFFICIENTS = {"c_g": "gradient-norm term ||grad f||^2", "c_v": "minibatch-variance term V"}
_POWER = {"same-lr": 0, "same-flow": -1, "same-calls": 1}  # ratio of c~ times P_deep^p / P_shallow^p
_k, _alpha, _m = sp.symbols("k alpha m", positive=True)


def _layers(name: str) -> list:
    return {"SGD": [], "LA": [(_k, _alpha)], "MLA": [(_k, _alpha), (_k, _alpha)]}[name]


@lru_cache(maxsize=None)
def _derived(name: str) -> tuple:
    """(c~_g, c~_v, P) of optimizer ``name`` as formulas in k, alpha and m = N K."""
    layers = _layers(name)
    K = sp.Mul(*[k for k, _ in layers])
    c_g, c_v = reshuffled_coefficients(layers, N_CYCLES)
    scaled = [Formula(sp.simplify((c.expr / ETA).subs(N_CYCLES, _m / K))) for c in (c_g, c_v)]
    return (*scaled, Formula(sp.Mul(*[alpha for _, alpha in layers])))


def coefficients(name: str, k, alpha, m) -> dict:
    """c~_g, c~_v (coefficients over eta) and P for ``name`` in SGD, LA, MLA, with each layer
    (k, alpha) and m minibatches an epoch (arrays broadcast). c~_v is NaN at m = 1 (V = 0)."""
    if name not in ("SGD", "LA", "MLA"):
        raise ValueError(f"optimizer must be SGD, LA or MLA, got {name!r}")
    k, alpha, m = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (k, alpha, m)))
    zero = np.zeros(k.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        c_g, c_v, P = (formula.numpy(k=k, alpha=alpha, m=m) + zero for formula in _derived(name))
    return {"c_g": c_g, "c_v": np.where(m > 1, c_v, np.nan), "P": P}


def framed_ratio(pair: str, coefficient: str, framing: str, k, alpha, m):
    """(ratio, c_deep, c_shallow): the deeper optimizer's coefficient against the shallower one's
    under ``framing``, each scaled to that framing (c~ P^p, p = 0, -1, +1)."""
    if pair not in PAIRS or coefficient not in COEFFICIENTS or framing not in FRAMINGS:
        raise ValueError(f"pair must be in {list(PAIRS)}, coefficient in {list(COEFFICIENTS)}, "
                         f"framing in {list(FRAMINGS)}; got {pair!r}, {coefficient!r}, {framing!r}")
    power = _POWER[framing]
    deep, shallow = (coefficients(name, k, alpha, m) for name in PAIRS[pair])
    c_deep = deep[coefficient] * deep["P"] ** power
    c_shallow = shallow[coefficient] * shallow["P"] ** power
    with np.errstate(divide="ignore", invalid="ignore"):
        return c_deep / c_shallow, c_deep, c_shallow


AMPLIFICATION_TOLERANCE = 1e-9  # relative: equal coefficients (e.g. k = 1) differ by rounding only


def amplifies(c_deep, c_shallow):
    """The claim at a point: the deeper coefficient is positive and above the shallower one (by more
    than rounding)."""
    return (c_deep > 0) & (c_deep > c_shallow + AMPLIFICATION_TOLERANCE * np.abs(c_shallow))


def amplification_map(pair: str, coefficient: str, framing: str, ks=range(1, 21),
                      alphas=None, cycles: int = 1) -> dict:
    """Ratio, coefficients and verdicts over the grid k x alpha, with ``cycles`` top-level cycles
    of the deeper optimizer per epoch (m = cycles k^depth; the shallower one sees the same m)."""
    cycles = check_positive("cycles", cycles, integer=True)
    alphas = np.linspace(0.05, 1.0, 39) if alphas is None else np.asarray(alphas, dtype=float)
    if np.any((alphas <= 0) | (alphas > 1)):
        raise ValueError("alphas must lie in (0, 1]")
    k, alpha = np.meshgrid(np.asarray(ks, dtype=float), alphas, indexing="ij")
    depth = 2 if pair == "MLA/LA" else 1
    ratio, c_deep, c_shallow = framed_ratio(pair, coefficient, framing, k, alpha, cycles * k ** depth)
    return {"k": k, "alpha": alpha, "ratio": ratio, "c_deep": c_deep, "c_shallow": c_shallow,
            "amplifies": amplifies(c_deep, c_shallow), "cycles": cycles}


PAPER_CONFIGURATIONS = ((5, 0.5), (10, 0.5), (5, 0.8), (2, 0.5))  # (k, alpha) per layer


def paper_table(configurations=PAPER_CONFIGURATIONS, cycles=(1, 2, 10)) -> list:
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
                        measured: tuple | None = None) -> CheckResult:
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
    verdict = "holds" if claim else "fails"
    if measured is not None:
        if coefficient != "c_v":
            raise ValueError("the valley drift measures the c_v term only; pass measured=None for c_g")
        powers = [coefficients(name, k, alpha, m)["P"] ** _POWER[framing] for name in PAIRS[pair]]
        value, stderr, z = measured
        scale = float(powers[0] / powers[1])
        measured_ratio, low, high = value * scale, (value - z * stderr) * scale, (value + z * stderr) * scale
        surely = (low > 1, high < 1) if shallow > 0 else (high < 0, low > 0)
        verdict = verdict if surely[0 if claim else 1] else "inconclusive"
    deeper, shallower = PAIRS[pair]
    return CheckResult(
        claim="C5", statement=f"{deeper} amplifies {shallower}'s implicit regularization "
                              f"({COEFFICIENTS[coefficient]}) under {FRAMINGS[framing]}",
        source="Pushkin & Barba (2021), claim P2",
        setting={"objective": "valley" if measured is not None else "derived coefficients",
                 "oracle": "reshuffle" if measured is not None else None,
                 "pair": pair, "coefficient": coefficient, "framing": framing, "k": k, "alpha": alpha,
                 "m": m, "layers": _pair_layers(pair, k, alpha), "c_deep_over_eta": deep,
                 "c_shallow_over_eta": shallow, "sign_change": bool(deep * shallow < 0),
                 "evidence": "valley drift" if measured is not None else "derived coefficients (C3/C4 check them)"},
        predicted=ratio, kind="tight", measured=measured_ratio, interval=(low, high), verdict=verdict)


def _pair_layers(pair: str, k: int, alpha: float) -> str:
    layer = format_layers([(k, alpha)])
    return {"LA/SGD": f"{layer} vs sgd", "MLA/LA": f"{layer},{layer} vs {layer}"}[pair]


# ---- the default run: `mla-check amplification` and simulations/implicit_regularization.py -----

SIZES = {  # valley drift: lrs, replicates
    "quick": (np.geomspace(0.001, 0.016, 5), 400),
    "default": (np.geomspace(0.001, 0.016, 6), 2000),
    "full": (np.geomspace(0.0005, 0.016, 8), 20000),
}
VALLEY_M = 50       # minibatches an epoch: whole cycles for SGD (N = 50), LA (10) and MLA (2)
PAPER_LAYER = (5, 0.5)
MAP_CYCLES = (1, 10)


def drift_sweeps(size: str = "default", seed: int = 0, progress: bool | None = None) -> dict:
    """The valley drift y(eta) of SGD, Lookahead (5, 0.5) and MLA (5, 0.5), (5, 0.5)."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    lrs, replicates = SIZES[size]
    objective = valley(2, 0, m=VALLEY_M)
    nestings = (("SGD", ()), ("LA", (PAPER_LAYER,)), ("MLA", (PAPER_LAYER, PAPER_LAYER)))
    return {name: drift_sweep(objective, name, layers, lrs, replicates, seed=run_seed(seed, index),
                              progress=progress)
            for index, (name, layers) in enumerate(nestings)}


def run_amplification_checks(out, size: str = "default", seed: int = 0, progress: bool | None = None) -> list:
    """C5: the amplification maps and table from the derived coefficients, and the valley drift
    checks (each optimizer's drift, the ratio per pair, the claim per pair, coefficient and framing
    at k = 5, alpha = 0.5). Writes figures, CSV and JSON into ``out``."""
    from ..plotting import amplification_figure, drift_figure

    out = Path(out)
    maps = {framing: {(pair, coefficient, cycles): amplification_map(pair, coefficient, framing, cycles=cycles)
                      for pair in PAIRS for coefficient in COEFFICIENTS for cycles in MAP_CYCLES}
            for framing in FRAMINGS}
    map_figures = {framing: amplification_figure(grids, framing, out / f"amplification_{framing}.png")
                   for framing, grids in maps.items()}
    map_rows = [[framing, pair, coefficient, grid["cycles"], int(k), alpha, ratio, deep, shallow, bool(amp)]
                for framing, grids in maps.items() for (pair, coefficient, _), grid in grids.items()
                for k, alpha, ratio, deep, shallow, amp in zip(*(grid[key].ravel() for key in (
                    "k", "alpha", "ratio", "c_deep", "c_shallow", "amplifies")))]
    map_table = write_csv(out / "amplification_map.csv", ["framing", "pair", "coefficient", "N", "k", "alpha",
                                                         "ratio", "c_deep_over_eta", "c_shallow_over_eta",
                                                         "amplifies"], map_rows)
    table = paper_table()
    write_json(out / "amplification_table.json", table)

    sweeps = drift_sweeps(size, seed, progress)
    k, alpha = PAPER_LAYER
    z = z_quantile(len(sweeps) + len(PAIRS))  # the intervals checked together: drifts and ratios
    drift = [check_drift(sweep, z) for sweep in sweeps.values()]
    pairs = {pair: (sweeps[deep], sweeps[shallow]) for pair, (deep, shallow) in PAIRS.items()}
    ratios = [check_drift_ratio(*pairs[pair], z, float(framed_ratio(pair, "c_v", "same-lr", k, alpha, VALLEY_M)[0]))
              for pair in PAIRS]
    claims = [check_amplification(pair, coefficient, framing, k, alpha, VALLEY_M,
                                  (*drift_ratio(*pairs[pair]), z) if coefficient == "c_v" else None)
              for pair in PAIRS for coefficient in COEFFICIENTS for framing in FRAMINGS]
    figure = drift_figure(list(sweeps.values()), [check.predicted for check in drift], z, out / "valley_drift.png")
    drift_table = write_csv(out / "valley_drift.csv", ["optimizer", "layers", "lr", "y_mean", "y_stderr"],
                            [[s.name, format_layers(s.layers), lr, y, e] for s in sweeps.values()
                             for lr, y, e in zip(s.lrs, s.rates, s.stderr)])
    results = drift + ratios + claims
    for check in results:  # a claim row points to its framing's map first, a drift row to the drift
        framing = check.setting.get("framing")
        maps_first = "coefficient" in check.setting
        check.figures = [str(figure)] + ([str(map_figures[framing])] if framing in map_figures else [])
        check.figures = check.figures[::-1] if maps_first else check.figures
        check.data = [str(drift_table), str(map_table), str(out / "amplification_table.json"),
                      str(out / "amplification.json")]
    write_json(out / "amplification.json", [check.to_dict(out) for check in results])
    return results
