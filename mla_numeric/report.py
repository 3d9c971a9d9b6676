"""The main job: run every claim check, cache their results, write the report folder atomically.

A report folder holds ``report.md`` (the verdict table, a paragraph per claim, figures inline),
``summary.json`` (one object per check with the fields of ``CheckResult``, plus the package
version, the configuration, seeds, timings and any check that could not run; the schema is
``summary.schema.json`` next to this module) and one subfolder of figures and data per check
group. It is built in a temporary sibling folder and swapped in by renames, so an interrupted
run leaves the previous report as it was.

Each group's results and files are cached under ``cache_dir/<key>``, key = a hash of the group,
its size and seed, the package version and the package's source files: a second run with the
same configuration copies them instead of simulating, and any edit of the code invalidates them.

The groups' work units run through an executor (``mla_numeric.execution``): in this process
(``scheduler="local"``), on N worker processes (``"processes:N"``) or on a Dask cluster
(``"tcp://HOST:PORT"``). The numbers are the same whichever runs them, so the scheduler is not
part of the cache key; summary.json records it in ``configuration`` and each unit's seconds in
``unit_seconds``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ._typing import JSON, StrPath
from ._version import __version__
from .checks import registry
from .checks.group import SIZES, CheckGroup, Document, Figure, Table
from .checks.result import CheckResult, verdict_row
from .execution import executor, source_digest
from .files import write_csv, write_json, write_text
from .folders import building, check_output_folder, publish

__all__ = ["run_all", "run_group", "run_group_folder", "write_group", "write_artifacts", "default_cache_dir",
           "cache_key", "check_size_and_seed", "SCHEMA_PATH", "tally", "report_markdown", "claim_table"]

SCHEMA_PATH = Path(__file__).with_name("summary.schema.json")


def write_artifacts(folder: StrPath, files: Iterable[Figure | Table | Document], results: Iterable[CheckResult],
                    prefix: str | None = None) -> list[JSON]:
    """Write a group's figures, tables and documents into ``folder``; the results as dictionaries,
    their file names prefixed with ``prefix`` (default: the folder's name, as in a report)."""
    folder = Path(folder)
    prefix = folder.name if prefix is None else prefix
    for item in files:
        path = folder / item.name
        if isinstance(item, Figure):
            item.draw(path)
        elif isinstance(item, Table):
            write_csv(path, item.header, item.rows)
        elif isinstance(item, Document):
            write_json(path, _plain_results(item.content, prefix))
        else:
            raise TypeError(f"not an artifact: {item!r}")
    return [result.to_dict(prefix) for result in results]


def _plain_results(value: object, folder: str) -> object:
    """``value`` with every CheckResult replaced by its dictionary."""
    if isinstance(value, CheckResult):
        return value.to_dict(folder)
    if isinstance(value, dict):
        return {key: _plain_results(item, folder) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_results(item, folder) for item in value]
    return value


def write_group(checked: CheckGroup, folder: StrPath, data: Any, prefix: str | None = None) -> list[JSON]:
    """Judge a group's data and write its files into ``folder``; its results as dictionaries (file
    names prefixed as in ``write_artifacts``)."""
    results = checked.judge(data)
    return write_artifacts(folder, checked.artifacts(data, results), results, prefix)


def run_group(checked: CheckGroup, folder: StrPath, preset: Any, seed: int = 0, progress: bool | None = None,
              prefix: str | None = None, scheduler: str = "local") -> list[JSON]:
    """Measure (the group's units, run by ``scheduler``), judge and write one group into ``folder``;
    its results as dictionaries (file names prefixed as in ``write_artifacts``)."""
    with executor(scheduler) as running:
        [outcome] = list(running.run([checked.tasks(preset, seed)], progress, checked.name))
    if outcome.error is not None:
        raise outcome.error
    assert outcome.results is not None  # an outcome without an error has its results
    return write_group(checked, folder, checked.join(preset, seed, outcome.results), prefix)


def run_group_folder(checked: CheckGroup, out: StrPath, preset: Any, seed: int = 0, progress: bool | None = None,
                     force: bool = False, scheduler: str = "local") -> list[JSON]:
    """``run_group`` into a new output folder ``out``, published whole (see ``folders``)."""
    out = check_output_folder(out, force)
    build = building(out)
    try:
        results = run_group(checked, build, preset, seed, progress, prefix=str(out), scheduler=scheduler)
        publish(build, out)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return results


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/mla-numeric, or ~/.cache/mla-numeric."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mla-numeric"


def cache_key(group: str, size: str, seed: int) -> str:
    """Hash of the group's configuration at ``size``, the seed, the package version and its sources."""
    checked = registry.group(group)
    configuration = json.dumps({"group": group, "size": size, "seed": seed, "version": __version__,
                                "parameters": checked.configuration(checked.preset(size)),
                                "source": source_digest()}, sort_keys=True)
    return hashlib.sha256(configuration.encode()).hexdigest()[:20]


def _cached(group: str, build: Path, size: str, seed: int, cache_dir: Path | None) -> list[JSON] | None:
    """The group's cached check dictionaries, its files copied into build / group; None if not cached."""
    cached = cache_dir / cache_key(group, size, seed) if cache_dir is not None else None
    if cached is None or not (cached / "results.json").exists():
        return None
    shutil.copytree(cached / "files", build / group)
    results: list[JSON] = json.loads((cached / "results.json").read_text())
    return results


def _store(cached: Path, folder: Path, results: list[JSON]) -> None:
    """Publish a group's files and results under ``cached`` by one rename; a cache that cannot be
    written costs a warning, never the results."""
    staging = None
    try:
        staging = Path(tempfile.mkdtemp(dir=_ensure(cached.parent), prefix=".staging-"))
        shutil.copytree(folder, staging / "files")
        write_json(staging / "results.json", results)
        os.replace(staging, cached)
    except OSError as error:
        if not cached.exists():  # else another run cached it first
            warnings.warn(f"could not write the cache in {cached.parent} ({error.strerror or error}); "
                          f"results are not cached (--cache-dir to choose another folder)", RuntimeWarning,
                          stacklevel=2)
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_size_and_seed(size: str, seed: int) -> None:
    """ValueError unless ``size`` is one of SIZES and ``seed`` an integer in [0, 2**63)."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")


def run_all(out: StrPath = "mla-report", size: str = "default", seed: int = 0, groups: Iterable[str] | None = None,
            cache_dir: StrPath | None = None, use_cache: bool = True, progress: bool | None = None,
            force: bool = False, scheduler: str = "local") -> JSON:
    """Run every check group (or ``groups``), write the report folder ``out`` and return its summary.

    The groups that are not cached run together: their units go to the executor of ``scheduler``
    at once, and each group is judged and written as its last unit completes. A group whose units
    or judgement raise is recorded under ``failures`` with its error, without any of its files,
    and the others still run.
    """
    from .plotting import verdict_figure

    check_size_and_seed(size, seed)
    known = registry.groups()
    groups = list(known) if groups is None else list(groups)
    unknown = [group for group in groups if group not in known]
    if unknown:
        raise ValueError(f"unknown check group {unknown}; choose from {', '.join(known)}")
    cache_dir = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) if use_cache else None
    presets = {group: known[group].preset(size) for group in groups}
    out = check_output_folder(out, force)
    build = building(out)
    try:
        results, timings, units, failures, skipped, tasks = {}, {}, {}, {}, {}, {}
        for group in groups:
            start = time.perf_counter()
            missing = known[group].missing()
            if missing:  # an optional extra: reported, never an error
                skipped[group] = (f"not installed: {', '.join(missing)} "
                                  f"(pip install 'mla-numeric[{known[group].extra}]')")
            elif (hit := _cached(group, build, size, seed, cache_dir)) is not None:
                results[group], timings[group] = hit, time.perf_counter() - start
            else:
                try:
                    tasks[group] = known[group].tasks(presets[group], seed)
                except Exception as error:  # a preset its units refuse: reported like a failed run
                    failures[group], timings[group] = f"{type(error).__name__}: {error}", 0.0
        cached = [group for group in groups if group in results]
        pending = list(tasks)
        with executor(scheduler) as running:
            for outcome in running.run(list(tasks.values()), progress, "mla-check",
                                       [known[group].cost for group in pending],
                                       [known[group].single_core for group in pending]):
                group = pending[outcome.index]
                start = time.perf_counter()
                try:
                    if outcome.error is not None:
                        raise outcome.error
                    assert outcome.results is not None and outcome.seconds is not None  # no error: both given
                    data = known[group].join(presets[group], seed, outcome.results)
                    results[group] = write_group(known[group], build / group, data)
                except (KeyboardInterrupt, MemoryError):
                    raise
                except Exception as error:  # a check that cannot run is reported, not fatal
                    shutil.rmtree(build / group, ignore_errors=True)  # no half-written group in the report
                    failures[group] = f"{type(error).__name__}: {error}"
                else:
                    if cache_dir is not None:
                        _store(cache_dir / cache_key(group, size, seed), build / group, results[group])
                    units[group] = [round(seconds, 3) for seconds in outcome.seconds]
                timings[group] = sum(outcome.seconds or ()) + time.perf_counter() - start
        checks = [check for group in groups for check in results.get(group, [])]
        summary = {"package": "mla-numeric", "version": __version__, "size": size, "seed": seed,
                   "configuration": {"out": str(out), "groups": groups, "size": size, "seed": seed,
                                     "cache": str(cache_dir) if cache_dir else None, "scheduler": scheduler,
                                     "parameters": {group: known[group].configuration(presets[group])
                                                    for group in groups}},
                   "timings_seconds": {group: round(timings[group], 3) for group in groups if group in timings},
                   "unit_seconds": {group: units[group] for group in groups if group in units},
                   "cached": cached, "failures": {group: failures[group] for group in groups if group in failures},
                   "skipped": skipped, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "checks": checks}
        if checks:
            verdict_figure(tally(checks), build / "verdicts.png",
                           {claim.id: claim.title for claim in registry.claims().values()})
        write_json(build / "summary.json", summary)
        write_text(build / "report.md", report_markdown(summary))
        publish(build, out)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return summary


def tally(checks: Iterable[JSON]) -> dict[str, dict[str, int]]:
    """{claim: {verdict: count}} in claim order."""
    counts: dict[str, dict[str, int]] = {}
    for check in sorted(checks, key=lambda c: c["claim"]):
        verdicts = counts.setdefault(check["claim"], {})
        verdicts[check["verdict"]] = verdicts.get(check["verdict"], 0) + 1
    return counts


def report_markdown(summary: JSON) -> str:
    """report.md: the tally, one section per claim (paragraph, figures, table of its rows)."""
    lines = [f"# mla-check report ({summary['size']} size, seed {summary['seed']})", "",
             f"mla-numeric {summary['version']}, {summary['created']}. Timings (s): "
             + ", ".join(f"{group} {seconds:g}" + (" (cached)" if group in summary["cached"] else "")
                         for group, seconds in summary["timings_seconds"].items()) + ".", ""]
    for group, error in summary["failures"].items():
        lines += [f"**Could not run `{group}`:** {error}", ""]
    for group, note in summary.get("skipped", {}).items():
        lines += [f"**Skipped `{group}`:** {note}", ""]
    counts = tally(summary["checks"])
    lines += ["![verdicts per claim](verdicts.png)", ""] if counts else []
    lines += ["| claim | holds | fails | inconclusive |", "| --- | --- | --- | --- |"]
    lines += [f"| {claim} | {c.get('holds', 0)} | {c.get('fails', 0)} | {c.get('inconclusive', 0)} |"
              for claim, c in counts.items()]
    details = {claim.id: checked.details for checked in registry.groups().values() for claim in checked.claims}
    for claim in registry.claims().values():
        rows = [check for check in summary["checks"] if check["claim"] == claim.id]
        if not rows:
            continue
        lines += ["", f"## {claim.id}: {claim.title}", "", f"Claim: {claim.statement}. Decided by "
                  f"{claim.rule}.", ""]
        figures = list(dict.fromkeys(figure for check in rows for figure in check["figures"]))
        lines += [f"![{Path(figure).stem}]({figure})" for figure in figures] + [""]
        sources = "; ".join(dict.fromkeys(check["source"] for check in rows))
        lines += [claim_table(rows), "", f"Sources: {sources}."]
        detail = details[claim.id]
        lines += ["", detail(rows)] if detail is not None else []
    return "\n".join(lines) + "\n"


def claim_table(checks: Sequence[JSON]) -> str:
    """A Markdown table of checks (their dictionaries): setting, predicted, measured, interval,
    verdict, figure."""
    lines = ["| source | setting | predicted | measured | interval | verdict | control | resolution | figure |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += ["| {source} | {setting} | {predicted} | {measured} | {interval} | **{verdict}** | {control} "
              "| {resolution} | {figure} |".format(**verdict_row(check)) for check in checks]
    notes = [f"- {verdict_row(check)['setting']}: {check['note']}" for check in checks if check["note"]]
    controls = sorted({control["description"] for check in checks for control in check["control"]})
    resolutions = sorted({check["resolution"]["quantity"] for check in checks if check["resolution"]})
    return "\n".join(lines + ([""] + notes if notes else [])
                     + ["", "Controls (each run in the same setting; a holds stands only if its control is "
                        "rejected): " + "; ".join(controls) + ".", "Resolution: " + "; ".join(resolutions) + "."])
