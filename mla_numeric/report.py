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

from . import __version__
from .checks.result import verdict_row
from .files import write_json, write_text

__all__ = ["GROUPS", "CLAIMS", "SIZES", "run_all", "default_cache_dir", "cache_key", "SCHEMA_PATH", "tally", "group_configuration",
           "report_markdown", "claim_table"]

SIZES = ("quick", "default", "full")
SCHEMA_PATH = Path(__file__).with_name("summary.schema.json")
CLAIMS = {  # claim: (title, paragraph of report.md)
    "C1": ("Rate O(1/sqrt(T)) (Pushkin & Barba, P1)",
           "With eta = c / sqrt(T), the average of E||grad f(phi_t)||^2 over t < T should decay at least "
           "like T^(-1/2). Measured: the log-log slope over a sweep of T, with a bootstrap interval; "
           "holds when the interval's upper end is at most -1/2 + 0.05."),
    "C2": ("Explicit convergence bound, any depth (theory/convergence.md)",
           "The same average against 2 Delta / (eta P K T) + 2 L eta P sigma^2 + L^2 eta^2 (K-1) sigma^2. "
           "Holds when every upper confidence limit (Student t, Bonferroni over the sweep) is below the "
           "bound; a bound more than 10 times the measurement everywhere is reported as inconclusive."),
    "C3": ("Modified loss, full batch (Barrett & Dherin; derived lambda for any depth)",
           "One cycle against the flow of f + lambda ||grad f||^2: the error's log-log slope in eta should be "
           "3 (against the plain flow: 2). Holds when the slope's interval lies above 2.5 and the plain "
           "slope's below."),
    "C4": ("Modified loss, random reshuffling (Smith et al.; derived c_g, c_v for any depth)",
           "The mean epoch, exact over all m! orders (Monte Carlo beyond m = 8), against the flow of "
           "f + c_g ||grad f||^2 + c_v V, with the same slope criterion as C3."),
    "C5": ("Amplification of the implicit regularization (Pushkin & Barba, P2)",
           "Ratios of the derived coefficients, deeper over shallower optimizer, under three framings "
           "(same inner eta, same effective rate eta P, same eta and oracle calls), confirmed by the "
           "measured drift along a valley of minima extrapolated to eta -> 0. Rows on the drift check the "
           "prediction; rows on a pair, coefficient and framing give the claim's verdict there."),
    "C6": ("Noisy quadratic model (Zhang et al., Proposition 1, extended to n layers)",
           "The closed-form steady-state variance and expected loss against Monte Carlo estimates and the "
           "exact moment recurrences."),
}


def _rate(out, size, seed, progress):
    from .checks.rate import run_rate_checks
    return run_rate_checks(out, size=size, seed=seed, progress=progress)


def _modified_loss(out, size, seed, progress):
    from .checks.modified_loss import run_modified_loss_checks
    return run_modified_loss_checks(out, size, seed=seed)


def _amplification(out, size, seed, progress):
    from .checks.amplification import run_amplification_checks
    return run_amplification_checks(out, size, seed=seed, progress=progress)


def _nqm(out, size, seed, progress):
    from .checks.nqm import run_nqm_checks
    return run_nqm_checks(out, size=size, seed=seed, progress=progress)


GROUPS = {  # group (a subfolder, a subcommand): (claims, run, relative cost at the default size)
    "rate": (("C1", "C2"), _rate, 25.0),
    "modified-loss": (("C3", "C4"), _modified_loss, 8.0),
    "amplification": (("C5",), _amplification, 12.0),
    "nqm": (("C6",), _nqm, 40.0),
}


def group_configuration(group: str, size: str) -> dict:
    """The parameters a group runs with at ``size`` (sweeps, replicates, nestings), JSON-ready."""
    from .checks import amplification, modified_loss, nqm, rate

    if group == "rate":
        Ts, replicates = rate.SIZES[size]
        return {"T_for_the_nesting": Ts.tolist(), "replicates": replicates, "layers": rate.PAPER_LAYERS,
                "objectives": [objective.params | {"name": objective.name} for objective in rate.default_objectives()]}
    if group == "modified-loss":
        return {"settings": modified_loss.SETTINGS[size], "etas_per_fit": modified_loss.SIZES[size],
                "layers": modified_loss.LAYERS}
    if group == "amplification":
        lrs, replicates = amplification.SIZES[size]
        return {"lrs": lrs.tolist(), "replicates": replicates, "m": amplification.VALLEY_M,
                "layer": amplification.PAPER_LAYER, "map_cycles": amplification.MAP_CYCLES}
    window, replicates = nqm.SIZES[size]
    return {"window_calls": window, "replicates": replicates, "dim": nqm.DIM, "lr": nqm.LR,
            "nestings": nqm.NESTINGS}


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
    """Hash of the configuration, the package version and its source files."""
    configuration = json.dumps({"group": group, "size": size, "seed": seed, "version": __version__,
                                "parameters": group_configuration(group, size), "source": _source_digest()},
                               sort_keys=True)
    return hashlib.sha256(configuration.encode()).hexdigest()[:20]


def _run_group(group: str, build: Path, size: str, seed: int, cache_dir: Path | None, progress) -> tuple:
    """(check dictionaries, seconds, cached) for one group, written into build / group."""
    folder = build / group
    cached = cache_dir / cache_key(group, size, seed) if cache_dir is not None else None
    start = time.perf_counter()
    if cached is not None and (cached / "results.json").exists():
        shutil.copytree(cached / "files", folder)
        return json.loads((cached / "results.json").read_text()), time.perf_counter() - start, True
    try:
        results = [check.to_dict(build) for check in GROUPS[group][1](folder, size, seed, progress)]
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
            warnings.warn(f"could not write the cache {cached}: {error}", RuntimeWarning, stacklevel=2)
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_all(out="mla-report", size: str = "default", seed: int = 0, groups=None, cache_dir=None,
            use_cache: bool = True, progress: bool | None = None) -> dict:
    """Run every check group (or ``groups``), write the report folder ``out`` and return its summary.

    A group that raises is recorded under ``failures`` with its error and the others still run.
    """
    from tqdm import tqdm

    from .plotting import verdict_figure

    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    groups = list(GROUPS) if groups is None else list(groups)
    unknown = [group for group in groups if group not in GROUPS]
    if unknown:
        raise ValueError(f"unknown check group {unknown}; choose from {', '.join(GROUPS)}")
    cache_dir = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) if use_cache else None
    out = Path(out)
    build = Path(tempfile.mkdtemp(dir=_ensure(out.resolve().parent), prefix=f".{out.name}.building-"))
    try:
        checks, timings, failures, cached = [], {}, {}, []
        weights = {group: GROUPS[group][2] for group in groups}
        bar = tqdm(total=sum(weights.values()), desc="mla-check", unit="",  # on a terminal unless told
                   disable=None if progress is None else not progress,
                   bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}")
        with bar:
            for group in groups:
                bar.set_postfix_str(group)
                try:
                    results, seconds, hit = _run_group(group, build, size, seed, cache_dir, progress)
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
                                     "parameters": json.loads(json.dumps(
                                         {group: group_configuration(group, size) for group in groups}))},
                   "timings_seconds": timings, "cached": cached, "failures": failures,
                   "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "checks": checks}
        if checks:
            verdict_figure(tally(checks), build / "verdicts.png", {claim: title.split(" (")[0]
                                                                    for claim, (title, _) in CLAIMS.items()})
        write_json(build / "summary.json", summary)
        write_text(build / "report.md", report_markdown(summary))
        _swap(build, out)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return summary


def _swap(build: Path, out: Path) -> None:
    """Replace ``out`` by ``build`` with renames: the old report stays whole until the last moment,
    and comes back if the new one cannot take its place."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(build, 0o777 & ~umask)  # mkdtemp makes it private
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    try:
        os.replace(build, out)
    except BaseException:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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
    counts = tally(summary["checks"])
    lines += ["![verdicts per claim](verdicts.png)", ""] if counts else []
    lines += ["| claim | holds | fails | inconclusive |", "| --- | --- | --- | --- |"]
    lines += [f"| {claim} | {c.get('holds', 0)} | {c.get('fails', 0)} | {c.get('inconclusive', 0)} |"
              for claim, c in counts.items()]
    for claim, (title, paragraph) in CLAIMS.items():
        rows = [check for check in summary["checks"] if check["claim"] == claim]
        if not rows:
            continue
        lines += ["", f"## {claim}: {title}", "", paragraph, ""]
        figures = list(dict.fromkeys(figure for check in rows for figure in check["figures"]))
        lines += [f"![{Path(figure).stem}]({figure})" for figure in figures] + [""]
        lines += [claim_table(rows), "", "Sources: " + "; ".join(dict.fromkeys(check["source"] for check in rows)) + "."]
    return "\n".join(lines) + "\n"


def claim_table(checks) -> str:
    """A Markdown table of checks (their dictionaries): setting, predicted, measured, interval,
    verdict, figure."""
    lines = ["| source | setting | predicted | measured | interval | verdict | figure |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += ["| {source} | {setting} | {predicted} | {measured} | {interval} | **{verdict}** | {figure} |".format(
        **verdict_row(check)) for check in checks]
    return "\n".join(lines)
