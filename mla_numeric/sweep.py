"""``mla-check sweep``: one claim checked at every point of a grid of settings.

A sweep checks a claim at each point of the product of its axes' values. Each point is one work
unit, run by an executor (``mla_numeric.execution``: this process or a Dask cluster; the rows do
not depend on which), and gives one row: the point's coordinates, the verdict, predicted and
measured values, the interval and the value a heatmap cell shows. The output folder (built aside
and published whole, ``folders``) holds ``sweep.csv``, ``sweep.json`` and a heatmap
``sweep_<a>_<b>.png`` for each pair of axes with more than one value, or for the one such axis
against another (``plotting.sweep_figure``: verdict colours, the value in a cell of one point, the
share that holds in a cell of several).
Each point's row is cached under ``cache_dir/sweep/<key>.json`` (key: claim, point, size, seed,
version, sources) as soon as it is computed, so an interrupted sweep resumes where it stopped.

Claims (``SWEEPS``):

- C5 (Pushkin & Barba 2021, P2), where nesting amplifies the implicit regularization. At each
  depth n, k, alpha, framing, coefficient and N: the optimizer with n layers (k, alpha) against the
  one with n - 1 layers, on m = N k^n minibatches an epoch, by the derived coefficients c_g, c_v
  (THEORY.md C4; ``amplification.check_amplification``, rule ``ratio``). Cell value: the ratio
  deeper / shallower under the framing. Derived values only: the valley drift that confirms them
  is measured by ``mla-check amplification`` at the paper's (5, 0.5).
- C2 (theory/convergence.md), the explicit bound. At each nesting, eta and objective, with
  Gaussian noise (sigma = 1): A(T) = (1/T) sum_{t<T} ||grad f(phi_t)||^2 over replicates, at the
  constant eta, for each T of the size (``rate.rate_sweep``), against
  2 Delta / (eta P K T) + 2 L eta P sigma^2 + L^2 eta^2 (K - 1) sigma^2 (``rate.check_bound``, rule
  ``bound``). Where the step condition 2 L eta P K + L^2 eta^2 K (K - 1) <= 1 fails, the bound
  claims nothing: the point is not run and is "inconclusive". Cell value: measured / bound at the
  T where the measurement comes closest to the bound.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import shutil
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ._typing import JSON, StrPath
from ._version import __version__
from .checks import rate
from .checks.amplification import COEFFICIENTS, FRAMINGS, check_amplification, pair_name
from .checks.result import CheckResult
from .execution import executor, source_digest
from .files import write_csv, write_json
from .folders import building, check_output_folder, publish
from .oracles import GaussianNoise
from .spec import MLA, format_layers, parse_layers

__all__ = ["Axis", "ClaimSweep", "SWEEPS", "PointFailed", "sweep_of", "grid", "run_sweep", "cache_key"]


class PointFailed(RuntimeError):
    """A grid point whose check raised (twice, on a cluster): one line naming the point."""


_Number = TypeVar("_Number", int, float)


def numbers(kind: type[_Number], valid: Callable[[_Number], bool] = lambda value: True,
            rule: str = "") -> Callable[[Sequence[str]], tuple[_Number, ...]]:
    """Parse command-line tokens into numbers of ``kind`` ("0.25,0.5" "1" or, for integers, "2..8"),
    each ``valid`` (else ValueError: ``rule``)."""
    def parse(tokens: Sequence[str]) -> tuple[_Number, ...]:
        values: list[_Number] = []
        for item in ",".join(tokens).split(","):
            low, dots, high = item.partition("..")
            try:
                values += list(range(int(low), int(high) + 1)) if dots and kind is int else [kind(item)]
            except ValueError:
                expected = "an integer or a range a..b" if kind is int else "a number"
                raise ValueError(f"{item!r} is not {expected}" + (f" ({rule})" if rule else "")) from None
        wrong = [value for value in values if not (math.isfinite(value) and valid(value))]
        if wrong or not values:
            raise ValueError(f"{wrong[0] if wrong else 'an empty range'}: {rule}")
        return tuple(values)
    return parse


def choices(options: Collection[str]) -> Callable[[Sequence[str]], tuple[str, ...]]:
    """Parse command-line tokens into names of ``options`` ("a,b" or "a b")."""
    def parse(tokens: Sequence[str]) -> tuple[str, ...]:
        values = tuple(",".join(tokens).split(","))
        unknown = [value for value in values if value not in options]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not one of {', '.join(options)}")
        return values
    return parse


def nestings(tokens: Sequence[str]) -> tuple[str, ...]:
    """Parse command-line tokens, one nesting each ("sgd", "5:0.5,5:0.5"), into normalised specs."""
    return tuple(format_layers(MLA(parse_layers(token)).layers) for token in tokens)


@dataclass(frozen=True)
class Axis:
    """A grid axis: the option ``--<flag>`` reads its values; ``default`` when it is not given."""

    name: str
    flag: str
    metavar: str
    help: str
    default: tuple[Any, ...]
    parse: Callable[[Sequence[str]], tuple[Any, ...]]


@dataclass(frozen=True)
class ClaimSweep:
    """How to sweep a claim: its group, axes, the check at one point, the value a cell shows."""

    claim: str
    group: str
    axes: tuple[Axis, ...]
    check: Callable[[JSON, str, int], CheckResult]   # (point: {axis: value}, size, seed), run by a worker
    value: Callable[[JSON], float | None]   # (the CheckResult's dictionary) -> the cell's value, or None
    value_label: str


def amplification_point(point: JSON, size: str, seed: int) -> CheckResult:
    """C5 at one point: the derived coefficients of n layers (k, alpha) against n - 1 (m = N k^n)."""
    depth, k = point["depth"], point["k"]
    return check_amplification(pair_name(depth), point["coefficient"], point["framing"], k, point["alpha"],
                               point["cycles"] * k ** depth)


BOUND_TS = {"quick": (30, 100, 300), "default": (30, 100, 300, 1000), "full": (30, 100, 300, 1000, 3000, 10000)}
BOUND_REPLICATES = {"quick": 8, "default": 16, "full": 64}


def bound_point(point: JSON, size: str, seed: int) -> CheckResult:
    """C2 at one point: A(T) at the constant eta for each T of ``BOUND_TS[size]`` against the bound,
    or "inconclusive" without a run where the step condition fails."""
    objective = rate.default_objectives([point["objective"]])[0]
    optimizer = MLA(parse_layers(point["layers"]), point["lr"])
    outside = rate.outside_premise(objective, optimizer.layers, [point["lr"]])
    if outside:  # no run: the theorem claims nothing here
        return CheckResult(rate.C2.id, rate.C2.statement, rate.C2.source,
                           {"objective": objective.name, "layers": point["layers"], "lr": point["lr"]},
                           None, rate.C2.kind, None, (None, None), "inconclusive", note=outside)
    run = rate.rate_sweep(objective, optimizer.layers, GaussianNoise(1.0), BOUND_TS[size], BOUND_REPLICATES[size],
                          point["lr"], "constant", seed)
    return rate.check_bound(run)


SWEEPS = {
    "C5": ClaimSweep("C5", "amplification", (
        Axis("depth", "--depth", "N..M", "layers n of the deeper optimizer, compared with n - 1 (default 1..3)",
             (1, 2, 3), numbers(int, lambda n: n >= 1, "--depth must be at least 1")),
        Axis("k", "--k", "K", "period k of every layer (default 2..8)", tuple(range(2, 9)),
             numbers(int, lambda k: k >= 1, "--k must be at least 1")),
        Axis("alpha", "--alpha", "A", "alpha of every layer (default 0.25,0.5,0.75,1)", (0.25, 0.5, 0.75, 1.0),
             numbers(float, lambda alpha: 0 < alpha <= 1, "--alpha must lie in (0, 1]")),
        Axis("framing", "--framing", "NAME", f"{', '.join(FRAMINGS)} (default all)", tuple(FRAMINGS),
             choices(FRAMINGS)),
        Axis("coefficient", "--coefficient", "NAME", f"{', '.join(COEFFICIENTS)} (default both)", tuple(COEFFICIENTS),
             choices(COEFFICIENTS)),
        Axis("cycles", "--cycles", "N", "top-level cycles N per epoch, m = N k^n >= 2 (default 1)", (1,),
             numbers(int, lambda n: n >= 1, "--cycles must be at least 1"))),
        amplification_point, lambda result: result["predicted"],
        "ratio deeper / shallower of the framed coefficients (derived)"),
    "C2": ClaimSweep("C2", "rate", (
        Axis("layers", "--layers-grid", "SPEC", "nestings, one per SPEC, innermost layer first (default sgd 2:0.5 "
             "5:0.5 10:0.8 5:0.5,5:0.5 2:0.5,2:0.5,2:0.5)",
             ("sgd", "2:0.5", "5:0.5", "10:0.8", "5:0.5,5:0.5", "2:0.5,2:0.5,2:0.5"), nestings),
        Axis("lr", "--lr", "ETA", "constant learning rates eta (default 0.005,0.01,0.02,0.05,0.1,0.2,0.5)",
             (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5),
             numbers(float, lambda eta: eta > 0, "--lr must be a finite number > 0")),
        Axis("objective", "--objective", "NAME", f"{', '.join(rate.OBJECTIVES)} (default robust-regression)",
             ("robust-regression",), choices(rate.OBJECTIVES))),
        bound_point, lambda result: None if None in (result["measured"], result["predicted"])
        else result["measured"] / result["predicted"],
        "measured A(T) / bound at the T closest to the bound"),
}


def sweep_of(target: str) -> ClaimSweep:
    """The sweep of claim ``target`` (e.g. "C5"), or of the one sweepable claim of group ``target``."""
    if target in SWEEPS:
        return SWEEPS[target]
    found = [sweep for sweep in SWEEPS.values() if sweep.group == target]
    if not found:
        known = ", ".join(f"{claim} ({sweep.group})" for claim, sweep in SWEEPS.items())
        raise ValueError(f"no sweep for {target!r}; choose a claim or group of: {known}")
    return found[0]


def grid(sweep: ClaimSweep, values: Mapping[str, Sequence[Any]] | None = None) -> list[JSON]:
    """The points ({axis: value}) of the product of the axes' values (``values`` overrides defaults)."""
    chosen = [(values or {}).get(axis.name) or axis.default for axis in sweep.axes]
    return [dict(zip((axis.name for axis in sweep.axes), point, strict=True)) for point in itertools.product(*chosen)]


def cache_key(claim: str, point: JSON, size: str, seed: int) -> str:
    """Hash of the claim, the point, size, seed, package version and sources."""
    text = json.dumps({"claim": claim, "point": point, "size": size, "seed": seed, "version": __version__,
                       "source": source_digest()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def run_point(task: tuple[str, JSON, str, int]) -> JSON:
    """The row of one point: (claim, point, size, seed) -> the point and its CheckResult's fields."""
    claim, point, size, seed = task
    sweep = SWEEPS[claim]
    result = sweep.check(point, size, seed).to_dict()
    return {"point": point, "verdict": result["verdict"], "predicted": result["predicted"],
            "measured": result["measured"], "interval": result["interval"], "value": sweep.value(result),
            "note": result["note"], "setting": result["setting"]}


def _text(point: JSON) -> str:
    return " ".join(f"{name}={value}" for name, value in point.items())


def _cached(folder: Path | None, key: str) -> JSON | None:
    if folder is None or not (folder / f"{key}.json").exists():
        return None
    row: JSON = json.loads((folder / f"{key}.json").read_text())
    return row


def _store(folder: Path, key: str, row: JSON) -> bool:
    """Cache one row; False (and a warning, once per sweep) when the folder cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / f"{key}.json", row)
        return True
    except OSError as error:
        warnings.warn(f"could not write the cache in {folder} ({error.strerror or error}); the sweep's points "
                      f"are not cached (--cache-dir to choose another folder)", RuntimeWarning, stacklevel=2)
        return False


def _pairs(axes: Mapping[str, Sequence[Any]]) -> list[tuple[str, str]]:
    """The pairs of axes with more than one value; a lone such axis against the first other axis."""
    varied = [name for name, values in axes.items() if len(values) > 1]
    if len(varied) == 1:
        return [(next(name for name in axes if name not in varied), varied[0])]
    return list(itertools.combinations(varied, 2))


def run_sweep(target: str, values: Mapping[str, Sequence[Any]] | None = None, out: StrPath | None = None,
              size: str = "default", seed: int = 0, cache_dir: StrPath | None = None, use_cache: bool = True,
              progress: bool | None = None, force: bool = False, scheduler: str = "local") -> JSON:
    """Sweep the claim ``target`` over the grid of ``values`` ({axis: values}; missing: the defaults),
    write the folder ``out`` (default mla-check-output/sweep-<claim>) and return the sweep's JSON:
    claim, size, seed, axes, value, rows (one per point, in grid order); plus, outside the file,
    ``out`` and ``cached`` (points read from the cache)."""
    from .plotting import sweep_figure
    from .report import check_size_and_seed, default_cache_dir

    check_size_and_seed(size, seed)
    sweep = sweep_of(target)
    points = grid(sweep, values)
    out = check_output_folder(out or f"mla-check-output/sweep-{sweep.claim}", force)
    folder = ((Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "sweep") if use_cache else None
    keys = [cache_key(sweep.claim, point, size, seed) for point in points]
    rows: list[Any] = [_cached(folder, key) for key in keys]
    todo = [index for index, row in enumerate(rows) if row is None]
    build = building(out)
    try:
        with executor(scheduler) as running:
            batches = [[(run_point, (sweep.claim, points[index], size, seed))] for index in todo]
            for outcome in running.run(batches, progress, f"sweep {sweep.claim}"):
                index = todo[outcome.index]
                if outcome.error is not None:
                    raise PointFailed(f"the {sweep.claim} check at {_text(points[index])} could not run: "
                                      f"{type(outcome.error).__name__}: {outcome.error}")
                assert outcome.results is not None  # an outcome without an error has its results
                rows[index] = outcome.results[0]
                if folder is not None and not _store(folder, keys[index], rows[index]):
                    folder = None
        axes = {axis.name: list(dict.fromkeys(point[axis.name] for point in points)) for axis in sweep.axes}
        document = {"claim": sweep.claim, "size": size, "seed": seed, "axes": axes, "value": sweep.value_label,
                    "rows": rows}
        write_json(build / "sweep.json", document)
        write_csv(build / "sweep.csv", (*axes, "verdict", "predicted", "measured", "low", "high", "value", "note"),
                  [[*row["point"].values(), row["verdict"], row["predicted"], row["measured"], *row["interval"],
                    row["value"], row["note"]] for row in rows])
        for first, second in _pairs(axes):
            sweep_figure(rows, first, second, axes, f"{sweep.claim} sweep ({size} size): {sweep.value_label}",
                         build / f"sweep_{first}_{second}.png")
        publish(build, out)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return {**document, "out": str(out), "cached": len(points) - len(todo)}
