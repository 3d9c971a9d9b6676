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
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from functools import lru_cache
from pathlib import Path

from ._version import __version__
from .checks import registry
from .checks.group import SIZES, CheckGroup, Document, Figure, Table
from .checks.result import CheckResult, verdict_row
from .files import write_csv, write_json, write_text
from .folders import building, check_output_folder, publish

__all__ = ["run_all", "run_group", "run_group_folder", "write_artifacts", "default_cache_dir", "cache_key", "SCHEMA_PATH", "tally",
           "report_markdown", "claim_table"]

SCHEMA_PATH = Path(__file__).with_name("summary.schema.json")


def write_artifacts(folder, files: list, results: list, prefix: str | None = None) -> list:
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


def _plain_results(value, folder: str):
    """``value`` with every CheckResult replaced by its dictionary."""
    if isinstance(value, CheckResult):
        return value.to_dict(folder)
    if isinstance(value, dict):
        return {key: _plain_results(item, folder) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_results(item, folder) for item in value]
    return value


def run_group(checked: CheckGroup, folder, preset, seed: int = 0, progress: bool | None = None,
              prefix: str | None = None) -> list:
    """Measure, judge and write one group into ``folder``; its results as dictionaries (file names
    prefixed as in ``write_artifacts``)."""
    data, results = checked.run(preset, seed, progress)
    return write_artifacts(folder, checked.artifacts(data, results), results, prefix)


def run_group_folder(checked: CheckGroup, out, preset, seed: int = 0, progress: bool | None = None,
                     force: bool = False) -> list:
    """``run_group`` into a new output folder ``out``, published whole (see ``folders``)."""
    out = check_output_folder(out, force)
    build = building(out)
    try:
        results = run_group(checked, build, preset, seed, progress, prefix=str(out))
        publish(build, out)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return results


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/mla-numeric, or ~/.cache/mla-numeric."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mla-numeric"


@lru_cache(maxsize=1)
def _source_digest() -> str:
    """Hash of the package's source files, read once per process."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.relative_to(Path(__file__).parent).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(group: str, size: str, seed: int) -> str:
    """Hash of the group's configuration at ``size``, the seed, the package version and its sources."""
    checked = registry.group(group)
    configuration = json.dumps({"group": group, "size": size, "seed": seed, "version": __version__,
                                "parameters": checked.configuration(checked.preset(size)),
                                "source": _source_digest()}, sort_keys=True)
    return hashlib.sha256(configuration.encode()).hexdigest()[:20]


def _run_cached(group: str, build: Path, size: str, seed: int, cache_dir: Path | None, progress) -> tuple:
    """(check dictionaries, seconds, cached) for one group, written into build / group."""
    checked = registry.group(group)
    folder = build / group
    cached = cache_dir / cache_key(group, size, seed) if cache_dir is not None else None
    start = time.perf_counter()
    if cached is not None and (cached / "results.json").exists():
        shutil.copytree(cached / "files", folder)
        return json.loads((cached / "results.json").read_text()), time.perf_counter() - start, True
    try:
        results = run_group(checked, folder, checked.preset(size), seed, progress)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # no half-written group in the report
        raise
    seconds = time.perf_counter() - start
    if cached is not None:
        _store(cached, folder, results)
    return results, seconds, False


def _store(cached: Path, folder: Path, results: list) -> None:
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


def run_all(out="mla-report", size: str = "default", seed: int = 0, groups=None, cache_dir=None,
            use_cache: bool = True, progress: bool | None = None, force: bool = False) -> dict:
    """Run every check group (or ``groups``), write the report folder ``out`` and return its summary.

    A group that raises is recorded under ``failures`` with its error and the others still run.
    """
    from tqdm import tqdm

    from .plotting import verdict_figure

    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    known = registry.groups()
    groups = list(known) if groups is None else list(groups)
    unknown = [group for group in groups if group not in known]
    if unknown:
        raise ValueError(f"unknown check group {unknown}; choose from {', '.join(known)}")
    cache_dir = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) if use_cache else None
    out = check_output_folder(out, force)
    build = building(out)
    try:
        checks, timings, failures, cached, skipped = [], {}, {}, [], {}
        weights = {group: known[group].cost for group in groups}
        bar = tqdm(total=sum(weights.values()), desc="mla-check", unit="",  # on a terminal unless told
                   disable=None if progress is None else not progress,
                   bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}")
        with bar:
            for group in groups:
                bar.set_postfix_str(group)
                missing = known[group].missing()
                if missing:  # an optional extra: reported, never an error
                    skipped[group] = (f"not installed: {', '.join(missing)} "
                                      f"(pip install 'mla-numeric[{known[group].extra}]')")
                    bar.update(weights[group])
                    continue
                try:
                    results, seconds, hit = _run_cached(group, build, size, seed, cache_dir, progress)
                except (KeyboardInterrupt, MemoryError):
                    raise
                except Exception as error:  # a check that cannot run is reported, not fatal
                    failures[group] = f"{type(error).__name__}: {error}"
                    results, seconds, hit = [], 0.0, False
                checks += results
                timings[group] = round(seconds, 3)
                cached += [group] if hit else []
                bar.update(weights[group])
        summary = {"package": "mla-numeric", "version": __version__, "size": size, "seed": seed,
                   "configuration": {"out": str(out), "groups": groups, "size": size, "seed": seed,
                                     "cache": str(cache_dir) if cache_dir else None,
                                     "parameters": {group: known[group].configuration(known[group].preset(size))
                                                    for group in groups}},
                   "timings_seconds": timings, "cached": cached, "failures": failures, "skipped": skipped,
                   "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "checks": checks}
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


def tally(checks) -> dict:
    """{claim: {verdict: count}} in claim order."""
    counts = {}
    for check in sorted(checks, key=lambda c: c["claim"]):
        verdicts = counts.setdefault(check["claim"], {})
        verdicts[check["verdict"]] = verdicts.get(check["verdict"], 0) + 1
    return counts


def report_markdown(summary: dict) -> str:
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
        lines += [claim_table(rows), "", "Sources: " + "; ".join(dict.fromkeys(check["source"] for check in rows)) + "."]
        lines += ["", details[claim.id](rows)] if details[claim.id] else []
    return "\n".join(lines) + "\n"


def claim_table(checks) -> str:
    """A Markdown table of checks (their dictionaries): setting, predicted, measured, interval,
    verdict, figure."""
    lines = ["| source | setting | predicted | measured | interval | verdict | control | resolution | figure |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += ["| {source} | {setting} | {predicted} | {measured} | {interval} | **{verdict}** | {control} | {resolution} "
              "| {figure} |".format(**verdict_row(check)) for check in checks]
    notes = [f"- {verdict_row(check)['setting']}: {check['note']}" for check in checks if check["note"]]
    controls = sorted({control["description"] for check in checks for control in check["control"]})
    resolutions = sorted({check["resolution"]["quantity"] for check in checks if check["resolution"]})
    return "\n".join(lines + ([""] + notes if notes else [])
                     + ["", "Controls (each run in the same setting; a holds stands only if its control is "
                        "rejected): " + "; ".join(controls) + ".", "Resolution: " + "; ".join(resolutions) + "."])
