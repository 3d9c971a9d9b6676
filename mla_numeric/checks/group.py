"""The shape of a check group: its claims, presets, ``measure``, ``judge`` and the files it wants.

A group is declared once, in its own module, as ``GROUP = CheckGroup(...)``; the registry lists
the modules. ``measure`` and ``judge`` return numbers and plain data; ``artifacts`` only *names*
the figures, tables and documents to write (``Figure``, ``Table``, ``Document``) and which results
they belong to: the report layer (``mla_numeric.report``) writes them. A ``measure`` that is a
``Work`` is split into independent units, which ``mla_numeric.execution`` runs in this process or
on a Dask cluster with the same result, bit for bit.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np

from .._typing import JSON, StrPath
from .result import CheckResult
from .stats import KINDS

if TYPE_CHECKING:
    from _typeshed import DataclassInstance  # a dataclass instance (typeshed's protocol); only read by type checkers

__all__ = ["Claim", "Option", "one_of", "Figure", "Table", "Document", "Work", "CheckGroup", "SIZES", "plain"]

SIZES = ("quick", "default", "full")

# A ``Work``'s types: the preset it splits, a unit of work, a unit's result and the combined data.
PresetT = TypeVar("PresetT")
UnitT = TypeVar("UnitT")
ResultT = TypeVar("ResultT")
DataT = TypeVar("DataT")


@dataclass(frozen=True)
class Claim:
    """A claim of THEORY.md: ``kind`` selects the verdict rule of ``stats``; ``rule`` says it with
    this claim's constants (generated from them where the group defines it)."""

    id: str
    title: str
    statement: str
    source: str
    kind: str
    rule: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")


@dataclass(frozen=True)
class Option:
    """A command-line option of the group's subcommand that overrides a field of its preset."""

    flag: str
    field: str
    metavar: str
    help: str
    parse: Callable[[str], object] = lambda value: value  # of each value, when repeatable
    repeatable: bool = False


def one_of(flag: str, allowed: Sequence[str]) -> Callable[[str], str]:
    """An Option's ``parse`` that accepts only the names in ``allowed``."""
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"{flag} must be one of {', '.join(allowed)}, got {text!r}")
        return text
    return parse


@dataclass(frozen=True)
class Figure:
    """A figure to draw: ``draw(path)`` draws it and saves it at ``path`` (plotting/)."""

    name: str
    draw: Callable[[StrPath], object]


@dataclass(frozen=True)
class Table:
    """A CSV file: a header and rows."""

    name: str
    header: tuple[str, ...]
    rows: Sequence[Sequence[object]]


@dataclass(frozen=True)
class Document:
    """A JSON file: plain data, in which CheckResult objects stand for their ``to_dict()``."""

    name: str
    content: Any


@dataclass(frozen=True)
class Work(Generic[PresetT, UnitT, ResultT, DataT]):
    """``measure`` as independent units of work whose results combine deterministically.

    ``units(preset, seed) -> [unit]``: small picklable descriptions, in a fixed order;
    ``run(unit) -> result``: a module-level function (a worker process imports it by name);
    ``combine(preset, seed, results) -> data``, with the results in the order of ``units``.
    Called like a ``measure``, it runs the units here, one after another, and combines them.
    Every unit draws its randomness from the streams keyed by (seed, replicate) of the
    replicates it runs (rng.py), and ``combine`` sees the results in unit order whichever process
    computed each, so every assignment of units to processes gives the same data, bit for bit.
    """

    units: Callable[[PresetT, int], Sequence[UnitT]]
    run: Callable[[UnitT], ResultT]
    combine: Callable[[PresetT, int, list[ResultT]], DataT]

    def __call__(self, preset: PresetT, seed: int = 0, progress: bool | None = None) -> DataT:
        return self.combine(preset, seed, [self.run(unit) for unit in self.units(preset, seed)])


@dataclass(frozen=True)
class CheckGroup:
    """One subcommand, one report section per claim, one subfolder of the report.

    ``measure(preset, seed, progress) -> data``, a function or a ``Work``; ``judge(data) -> [CheckResult]``;
    ``artifacts(data, results) -> [Figure | Table | Document]`` sets each result's ``figures`` and
    ``data`` to the names of its files. ``requires``: modules of an optional extra; a group whose
    extra is missing is reported as not installed. ``single_core``: its units compute on one core,
    much of the time in a solver that releases the GIL (Clarabel), so the local executor runs them
    in a second thread beside the other groups' (``mla_numeric.execution``); they must then leave
    process-wide state alone (stdout, warning filters, the working folder, the environment,
    numba's thread count) and lock their libraries' global state.
    """

    name: str
    summary: str
    description: str
    claims: tuple[Claim, ...]
    presets: Mapping[str, DataclassInstance]
    measure: Callable[[Any, int, bool | None], Any]   # preset and data: each group's own types
    judge: Callable[[Any], list[CheckResult]]
    artifacts: Callable[[Any, list[CheckResult]], list[Figure | Table | Document]] = lambda data, results: []
    cost: float = 1.0
    single_core: bool = False
    options: tuple[Option, ...] = ()
    requires: tuple[str, ...] = ()
    extra: str | None = None
    full_help: str = "larger sweeps"
    details: Callable[[list[JSON]], str] | None = None   # (check dictionaries of one claim) -> Markdown for report.md

    def __post_init__(self) -> None:
        if set(self.presets) != set(SIZES):
            raise ValueError(f"group {self.name!r} needs a preset for each size {SIZES}, got {sorted(self.presets)}")

    def preset(self, size: str, **overrides: object) -> DataclassInstance:
        """The preset of ``size``, with fields replaced by ``overrides`` (None: keep)."""
        if size not in SIZES:
            raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
        changes = {key: value for key, value in overrides.items() if value is not None}
        return dataclasses.replace(self.presets[size], **changes)

    def configuration(self, preset: DataclassInstance) -> JSON:
        """The preset as plain JSON data: the cache key and summary.json's parameters."""
        configuration: JSON = plain(dataclasses.asdict(preset))
        return configuration

    def missing(self) -> list[str]:
        """The required modules that cannot be imported (an optional extra not installed)."""
        return [module for module in self.requires if importlib.util.find_spec(module) is None]

    def run(self, preset: DataclassInstance, seed: int = 0,
            progress: bool | None = None) -> tuple[Any, list[CheckResult]]:
        """(data, results): measure, then judge."""
        data = self.measure(preset, seed, progress)
        return data, self.judge(data)

    def tasks(self, preset: DataclassInstance, seed: int = 0) -> list[tuple[Callable[[Any], Any], Any]]:
        """The work of ``measure`` as independent tasks ``(function, argument)``: a ``Work``'s units,
        or else one task, the whole measure."""
        if isinstance(self.measure, Work):
            return [(self.measure.run, unit) for unit in self.measure.units(preset, seed)]
        return [(_whole, (self.measure, preset, seed))]

    def join(self, preset: DataclassInstance, seed: int, results: list[Any]) -> Any:
        """``measure``'s data from the results of ``tasks``, in their order."""
        return self.measure.combine(preset, seed, results) if isinstance(self.measure, Work) else results[0]


def _whole(task: tuple[Callable[[Any, int, bool | None], Any], DataclassInstance, int]) -> Any:
    """The task of a group whose measure is not split: (measure, preset, seed) -> data."""
    measure, preset, seed = task
    return measure(preset, seed, False)


def plain(value: object) -> Any:
    """JSON-ready copy: tuples to lists, numpy scalars and arrays to Python numbers and lists."""
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if isinstance(v, (np.ndarray, np.generic))
                                 else str(v)))

