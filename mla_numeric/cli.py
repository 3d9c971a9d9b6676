"""The ``mla-check`` command: argument parsing, the printed results, and how a run meets the
terminal (one line per error or warning on stderr, Ctrl-C and SIGTERM).

Errors in the arguments exit with status 2 and one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shutil
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeAlias

import numpy as np

from . import objectives, report, sweep
from ._typing import JSON
from ._version import __version__
from .checks import registry
from .checks.result import verdict_row
from .engine import SimulationResult, Summary, simulate
from .execution import STOP_REQUESTED, SchedulerError, check_scheduler
from .files import json_text
from .oracles import ORACLES, Oracle, make_oracle
from .spec import MLA, check_positive, parse_layers
from .symbolic.summary import derivation, nqm_variance


class UsageError(Exception):
    """Bad arguments: reported in one line, exit status 2."""


class RunFailed(Exception):
    """A run that could not give a result (an extra not installed, every replicate diverged): one
    line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _typed(kind: type[int] | type[float], allowed: str) -> Callable[[str], int | float]:
    """An argparse ``type`` that refuses text that is not a ``kind`` with the option's range:
    "argument --T: must be an integer >= 1, got 'x'". The range itself is checked where the value
    is used."""
    def parse(text: str) -> int | float:
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}") from None
    return parse


SEED = "an integer in [0, 2**63)"
COUNT = "an integer >= 1"
POSITIVE = "a finite number > 0"


# Options accepted before or after the subcommand, with the same meaning: (flags, dest, keywords).
# Each is parsed into dest at the subcommand's level and into "top_" + dest before it; merge_options
# joins the two and refuses one that does not apply to the chosen command.
GLOBAL_OPTIONS: tuple[tuple[tuple[str, ...], str, dict[str, Any]], ...] = (
    (("--quick",), "size", {"action": "store_const", "const": "quick", "help": "a smoke-test size"}),
    (("--full",), "size", {"action": "store_const", "const": "full",
                           "help": "publication-size sweeps (see each check's --help)"}),
    (("--out",), "out", {"metavar": "DIR", "help": "output folder (default: mla-report, or "
                                                   "mla-check-output/CHECK for one check)"}),
    (("--force",), "force", {"action": "store_true", "help": "write into a non-empty folder that mla-check did "
                                                            "not write, beside its files (never touching them)"}),
    (("--seed",), "seed", {"type": _typed(int, SEED), "metavar": "N",
                           "help": "base seed of the random streams (default 0)"}),
    (("--json",), "json", {"action": "store_true", "help": "print JSON instead of a table or summary"}),
    (("--no-cache",), "no_cache", {"action": "store_true", "help": "run every check even if a cached result "
                                                                   "of the same configuration exists"}),
    (("--cache-dir",), "cache_dir", {"metavar": "DIR", "help": "where results are cached (default "
                                                               "$XDG_CACHE_HOME/mla-numeric or ~/.cache/mla-numeric)"}),
    (("--scheduler",), "scheduler", {"metavar": "WHERE", "help": "where the work units run: local (this process, "
                                     "the default), processes:N (N worker processes on this machine) or "
                                     "tcp://HOST:PORT (a Dask cluster); the numbers are the same. Needs "
                                     "mla-numeric[dask] except local"}),
)
DEFAULTS = {"size": "default", "out": None, "force": False, "seed": 0, "json": False, "no_cache": False,
            "cache_dir": None, "scheduler": "local"}
CHECK_OPTIONS = {"size", "out", "force", "seed", "json", "scheduler"}
APPLIES = {None: CHECK_OPTIONS | {"no_cache", "cache_dir"}, "sweep": CHECK_OPTIONS | {"no_cache", "cache_dir"},
           "simulate": {"seed", "json"}, "derive": {"json"},
           "nqm-variance": {"json"}}  # every check group: CHECK_OPTIONS


def _add_global_options(parser: argparse.ArgumentParser, command: str | None, prefix: str = "") -> None:
    """Every global option, so that one that does not apply is refused by name (merge_options);
    the help shows those that apply to ``command``."""
    applies = APPLIES.get(command, CHECK_OPTIONS)
    # (argparse 3.11 cannot show the usage of an exclusive group with hidden members)
    sizes = parser.add_mutually_exclusive_group() if "size" in applies else parser
    for flags, dest, keywords in GLOBAL_OPTIONS:
        target = sizes if dest == "size" else parser
        shown = keywords if dest in applies else dict(keywords, help=argparse.SUPPRESS)
        target.add_argument(*flags, dest=prefix + dest, default=argparse.SUPPRESS, **shown)


def merge_options(args: argparse.Namespace) -> argparse.Namespace:
    """Join the global options given before and after the subcommand; refuse one given twice with
    two values or one that does not apply to the command; fill in the defaults."""
    applies = APPLIES.get(args.command, CHECK_OPTIONS)
    names: dict[str, tuple[str, ...]] = {}
    for flags, dest, _ in GLOBAL_OPTIONS:
        names[dest] = names.get(dest, ()) + flags
    for dest, flags in names.items():
        before, after = getattr(args, "top_" + dest, None), getattr(args, dest, None)
        shown = "/".join(flags)
        if before is not None and after is not None and before != after:
            raise UsageError(f"{shown} is given before and after {args.command} with different values; give it once")
        value = after if after is not None else before
        if value is not None and dest not in applies:
            raise UsageError(f"{shown} does not apply to {args.command or 'the main job'}")
        setattr(args, dest, DEFAULTS[dest] if value is None else value)
    if args.cache_dir is not None and Path(args.cache_dir).exists() and not Path(args.cache_dir).is_dir():
        raise UsageError(f"--cache-dir must be a folder (or a path where one can be made), "
                         f"got the file {args.cache_dir}")
    check_scheduler(args.scheduler)
    return args


def build_parser() -> argparse.ArgumentParser:
    claims = list(registry.claims())
    parser = _Parser(prog="mla-check", description="Check the theory of nested (multilayer) Lookahead "
                     f"numerically. Without a subcommand: run every claim check ({claims[0]}-{claims[-1]}), "
                     "print the verdict table and write the report folder (report.md, summary.json, figures, "
                     "data). Exit status 0 when every check ran or was reported as not installed (an extra missing), "
                     "1 when one could not run, 2 for bad arguments. "
                     "Options may stand before or after the subcommand.")
    parser.add_argument("--version", action="version", version=f"mla-check {__version__}")
    _add_global_options(parser, None, "top_")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sim = commands.add_parser("simulate", help="simulate SGD, Lookahead or n-layer MLA on an objective",
                              description="Simulate an optimizer over many replicates and print the "
                              "mean and standard error of f(phi_t) and ||grad f(phi_t)||^2, t = 0..T.")
    sim.add_argument("--objective", default='robust-regression', metavar="NAME",
                     help=f"one of {', '.join(objectives.BUILTIN)} (default %(default)s)")
    sim.add_argument("--dim", type=_typed(int, COUNT), default=None, metavar="D",
                     help="dimension (default: the family's own, e.g. 10; 2 for valley)")
    sim.add_argument("--data-seed", type=_typed(int, SEED), default=0, metavar="N",
                     help="seed of the objective's data generator (default %(default)s)")
    sim.add_argument("--layers", default='5:0.5,5:0.5', metavar="SPEC",
                     help="k:alpha per layer, innermost first, e.g. 5:0.5,5:0.5; 'sgd' for none "
                          "(default %(default)s)")
    sim.add_argument("--lr", type=_typed(float, POSITIVE), default=0.05, metavar="ETA",
                     help="inner learning rate eta > 0 (default %(default)s)")
    sim.add_argument("--T", type=_typed(int, COUNT), default=200, help="top-level iterations (default %(default)s)")
    sim.add_argument("--replicates", type=_typed(int, COUNT), default=None, metavar="R",
                     help="number of replicates, each with its own random stream (default 32)")
    sim.add_argument("--seeds", type=_typed(int, COUNT), default=None,
                     help=argparse.SUPPRESS)  # the old name of --replicates
    sim.add_argument("--sigma", type=_typed(float, "a finite number >= 0"), default=None, metavar="S",
                     help="gaussian oracle only: total noise level, E||G - grad f||^2 = S^2 (default 1). "
                          "For nqm without --sigma: the model's own noise, sd h_i s_i per coordinate")
    sim.add_argument("--oracle", default='gaussian', metavar="NAME",
                     help=f"one of {', '.join(ORACLES)} (default %(default)s)")
    _add_global_options(sim, "simulate")

    derive = commands.add_parser("derive", help="print the derived K, P, D, modified-loss coefficients, "
                                 "bound and NQM variance ratio for a nesting",
                                 description="Derive, for the given layers: K, P, the pair-weight "
                                 "sum D, the modified-loss coefficients divided by eta (full batch lambda; "
                                 "reshuffled c_g, c_v), the convergence bound with its step condition, and "
                                 "the NQM variance ratio V / V_SGD as a function of beta = 1 - eta h.")
    derive.add_argument("--layers", required=True, metavar="SPEC", help="k:alpha per layer, innermost first, or 'sgd'")
    derive.add_argument("--cycles-per-epoch", type=_typed(int, COUNT), default=1, metavar="N",
                        help="top-level cycles per reshuffled epoch (m = N K batches; default %(default)s)")
    derive.add_argument("--expression", action="store_true",
                        help="print V / V_SGD's expression in beta even when it is long")
    _add_global_options(derive, "derive")

    nqm = commands.add_parser("nqm-variance", help="steady-state variance on one coordinate of the noisy "
                              "quadratic model", description="Closed-form steady-state variance of the slow "
                              "weights on f = h (x - c)^2 / 2, c ~ N(0, s^2), against SGD's.")
    nqm.add_argument("--layers", required=True, metavar="SPEC", help="k:alpha per layer, innermost first, or 'sgd'")
    nqm.add_argument("--lr", type=_typed(float, POSITIVE), required=True, metavar="ETA",
                     help="inner learning rate eta > 0")
    nqm.add_argument("--curvature", type=_typed(float, POSITIVE), required=True, metavar="H", help="curvature h > 0")
    nqm.add_argument("--noise", type=_typed(float, POSITIVE), required=True, metavar="S", help="noise scale s > 0")
    _add_global_options(nqm, "nqm-variance")

    sweeps = commands.add_parser("sweep", help="check a claim over a grid of settings: a table of verdicts and "
                                 "values, a heatmap per pair of axes",
                                 description="Check a claim at every point of a grid (the product of the axes' "
                                 "values) and write a folder (default mla-check-output/sweep-CLAIM) with sweep.csv, "
                                 "sweep.json and a heatmap per pair of axes; each point is cached, so an interrupted "
                                 "sweep resumes. Axes: " + "; ".join(
                                     f"{claim} ({plan.group}): " + ", ".join(axis.flag for axis in plan.axes)
                                     for claim, plan in sweep.SWEEPS.items())
                                 + ". Values: lists a,b,c (or a b c), integer ranges a..b. --quick and --full size "
                                 "each point's check (C2: its T's and replicates).")
    sweeps.add_argument("target", metavar="CLAIM", help="a claim (" + ", ".join(sweep.SWEEPS) + ") or its group ("
                        + ", ".join(plan.group for plan in sweep.SWEEPS.values()) + ")")
    for axis in {axis.flag: axis for plan in sweep.SWEEPS.values() for axis in plan.axes}.values():
        sweeps.add_argument(axis.flag, dest="axis_" + axis.name, nargs="+", metavar=axis.metavar, help=axis.help)
    _add_global_options(sweeps, "sweep")

    for checked in registry.groups().values():
        command = commands.add_parser(checked.name, help=checked.summary.replace("%", "%%"),  # argparse formats help
                                      description=f"{checked.description} --full: {checked.full_help}.")
        for option in checked.options:
            command.add_argument(option.flag, dest=option.field, metavar=option.metavar,
                                 action="append" if option.repeatable else "store", help=option.help)
        _add_global_options(command, checked.name)
    return parser


GROWTH = 100.0  # a mean loss this many times its start (plus 1) is flagged as unstable


def run_simulation(args: argparse.Namespace) -> SimulationResult:
    if args.seeds is not None and args.replicates is not None:
        raise UsageError("--seeds is the old name of --replicates; give --replicates only")
    if args.seeds is not None:
        print("mla-check: note: --seeds is now --replicates (a count; --seed is the base seed)", file=sys.stderr)
    replicates = next((r for r in (args.replicates, args.seeds) if r is not None), 32)
    if args.sigma is not None and args.oracle != "gaussian":
        raise UsageError(f"--sigma applies to the gaussian oracle only; the {args.oracle} oracle's noise comes "
                         f"from its minibatches")
    objective = objectives.make(args.objective, args.dim, args.data_seed)
    oracle: Oracle
    if args.oracle == "gaussian" and args.sigma is None and objective.name == "nqm":
        oracle = objectives.nqm_noise(objective)
    else:
        oracle = make_oracle(args.oracle, 1.0 if args.sigma is None else args.sigma)
    optimizer = MLA(parse_layers(args.layers), args.lr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = simulate(objective, optimizer, args.T, replicates, oracle, seed=args.seed, keep="summary")
    for warning in caught:
        print(f"mla-check: warning: {warning.message}", file=sys.stderr)
    loss = result.loss.mean
    grown = np.flatnonzero(np.isfinite(loss) & (np.abs(loss) > GROWTH * (abs(loss[0]) + 1)))
    if len(grown) and len(result.diverged) < len(result.replicates):
        print(f"mla-check: warning: unstable run: the mean loss grew from {loss[0]:.3g} to {loss[grown[0]]:.3g} "
              f"by step {grown[0]} (seed {args.seed}); lower --lr", file=sys.stderr)
    if len(result.diverged) == len(result.replicates):
        first = min(result.diverged, key=lambda event: event.step)
        raise RunFailed(f"every replicate diverged (first: replicate {first.replicate}, seed {first.seed}, "
                        f"step {first.step}); lower --lr")
    return result


def print_summary(result: SimulationResult) -> None:
    config = result.config
    T = config["T"]
    grad, loss = result.grad_norm_sq, result.loss
    print(f"objective  {config['objective']['name']} (d={config['objective']['dim']}, "
          f"L={config['objective']['L']}, f_low={config['objective']['f_low']})")
    print(f"optimizer  {config['optimizer']['spec']} lr={config['optimizer']['lr']:g} "
          f"(K={config['optimizer']['K']} oracle calls per iteration, P={config['optimizer']['P']:g})")
    print(f"oracle     {config['oracle']['name']}, {len(result.replicates)} replicates, seed {config['seed']}")
    for t in sorted({0, T // 4, T // 2, T}):
        print(f"t={t:<7d} f = {loss.mean[t]:.6g} ± {_error(loss, t)}   "
              f"||grad f||^2 = {grad.mean[t]:.6g} ± {_error(grad, t)}")
    print(f"(1/T) sum_t<T E||grad f(phi_t)||^2 = {grad.mean[:T].mean():.6g}; "
          f"diverged: {len(result.diverged)} of {len(result.replicates)}")


def _error(summary: Summary, t: int) -> str:
    """The standard error at t, shown as 0 where it is rounding noise (identical replicates)."""
    stderr = summary.stderr[t]
    return "0" if stderr <= 1e-12 * abs(summary.mean[t]) else f"{stderr:.2g}"


def run_derive(args: argparse.Namespace) -> JSON:
    layers = MLA(parse_layers(args.layers)).layers
    return derivation(layers, check_positive("--cycles-per-epoch", args.cycles_per_epoch, integer=True),
                      expression=args.expression)


def print_derivation(result: JSON) -> None:
    print(f"layers {result['layers']}: K = {result['K']}, P = {result['P']['expr']}, "
          f"D = {result['pair_weight_sum']['expr']}")
    print(f"full batch:  lambda / eta = {result['full_batch']['lambda_over_eta']['expr']}")
    reshuffled = result["reshuffled"]
    if "note" in reshuffled:
        print(f"reshuffled:  {reshuffled['note']}; use --cycles-per-epoch >= 2")
    else:
        print(f"reshuffled ({result['cycles_per_epoch']} cycles an epoch):  c_g / eta = "
              f"{reshuffled['c_grad_over_eta']['expr']},  c_v / eta = {reshuffled['c_var_over_eta']['expr']}")
    print(f"bound:       {result['bound']['expr']}   if {result['bound']['step_condition']}")
    nqm = result["nqm"]
    if nqm["variance_ratio_expr"] is not None:
        print(f"NQM:         V / V_SGD = {nqm['variance_ratio_expr']}   (beta = 1 - eta h)")
    else:
        at = nqm["variance_ratio_at"]
        print(f"NQM:         V / V_SGD = {at['value']:.6g} at beta = {at['beta']:g} (beta = 1 - eta h); "
              f"the expression is long: pass --expression to print it")


def run_nqm_variance(args: argparse.Namespace) -> JSON:
    layers = MLA(parse_layers(args.layers), args.lr).layers
    check_positive("--curvature", args.curvature)
    check_positive("--noise", args.noise)
    return nqm_variance(layers, args.lr, args.curvature, args.noise)


def run_group(args: argparse.Namespace) -> list[JSON]:
    """One check group alone, its files into --out; the group's options override its preset."""
    checked = registry.group(args.command)
    missing = checked.missing()
    if missing:
        raise RunFailed(f"the {checked.name} check needs {', '.join(missing)}, not installed: "
                           f"pip install 'mla-numeric[{checked.extra}]'")
    overrides = {}
    for option in checked.options:
        value = getattr(args, option.field)
        if value is not None:
            overrides[option.field] = tuple(map(option.parse, value)) if option.repeatable else option.parse(value)
    preset = checked.preset(args.size, **overrides)
    out = f"mla-check-output/{checked.name}" if args.out is None else args.out
    return report.run_group_folder(checked, out, preset, args.seed, force=args.force, scheduler=args.scheduler)


def print_checks(checks: Sequence[JSON]) -> None:
    """The verdict table of one check group (dictionaries), and the folder of its figures and data."""
    print_table(checks)
    folders = sorted({str(Path(path).parent) for check in checks for path in check["figures"] + check["data"]})
    print(f"figures and data: {', '.join(folders)}")


TABLE_WIDTH = 100
TABLE_COLUMNS = ("claim", "setting", "predicted", "measured", "interval", "verdict", "control")


def print_table(checks: Iterable[JSON], columns: Sequence[str] = TABLE_COLUMNS, width: int | None = None) -> None:
    """One row per check (dictionaries), columns aligned, within ``width`` characters (default: the
    terminal's width, at least TABLE_WIDTH): the setting is cut (with "~") where the row would be
    wider; report.md has the whole table."""
    width = max(TABLE_WIDTH, shutil.get_terminal_size((TABLE_WIDTH, 24)).columns) if width is None else width
    rows = [verdict_row(check) for check in checks]
    widths = {column: max([len(column)] + [len(row[column]) for row in rows]) for column in columns}
    excess = sum(widths.values()) + 2 * (len(columns) - 1) - width
    if excess > 0 and "setting" in widths:
        widths["setting"] = max(len("setting"), widths["setting"] - excess)
    for row in [dict(zip(columns, columns, strict=True))] + rows:
        cells = {column: _cut(row[column], widths[column]) for column in columns}
        print("  ".join(f"{cells[column]:{widths[column]}}" for column in columns).rstrip())


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "~"


@contextlib.contextmanager
def _library_output() -> Iterator[None]:
    """During a run, the libraries' warnings and what they print (PEPit prints its warnings to
    stdout, which would break --json) become lines "mla-check: warning: ..." on stderr, each once,
    unless the run is interrupted (then "interrupted" is the one line). Python's default filters
    still hide resource and deprecation warnings."""
    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed):
        warnings.simplefilter("always")
        for hidden in (ResourceWarning, DeprecationWarning, PendingDeprecationWarning):
            warnings.simplefilter("ignore", hidden)
        try:
            yield
        except KeyboardInterrupt:
            caught.clear()
            printed = io.StringIO()
            raise
        finally:
            # a printed message is a line and its indented continuation lines; colour codes are dropped
            text = re.sub(r"\x1b\[[0-9;]*m", "", printed.getvalue())
            messages = [part for part in re.split(r"\n(?!\s)", text) if part.strip()]
            for message in dict.fromkeys(" ".join(str(m).split()) for m in
                                         [warning.message for warning in caught] + messages):
                print(f"mla-check: warning: {message}", file=sys.stderr)


def run_report(args: argparse.Namespace) -> JSON:
    return report.run_all("mla-report" if args.out is None else args.out, args.size, seed=args.seed,
                          cache_dir=args.cache_dir, use_cache=not args.no_cache, force=args.force,
                          scheduler=args.scheduler)


def run_sweep(args: argparse.Namespace) -> JSON:
    """The sweep of a claim: its axes' values from the options (the others' refused), its folder."""
    plan = sweep.sweep_of(args.target)
    mine = {axis.name for axis in plan.axes}
    values = {}
    for axis in {axis.flag: axis for other in sweep.SWEEPS.values() for axis in other.axes}.values():
        tokens = getattr(args, "axis_" + axis.name)
        if tokens is None:
            continue
        if axis.name not in mine:
            raise UsageError(f"{axis.flag} does not apply to sweep {plan.claim}; its axes: "
                             f"{', '.join(a.flag for a in plan.axes)}")
        try:
            values[axis.name] = axis.parse(tokens)
        except ValueError as error:
            raise UsageError(f"{axis.flag}: {error}") from None
    return sweep.run_sweep(plan.claim, values, args.out, args.size, args.seed, args.cache_dir,
                           not args.no_cache, force=args.force, scheduler=args.scheduler)


def print_sweep(result: JSON) -> None:
    """A tally of the verdicts and where the table and heatmaps are."""
    counts: dict[str, int] = {}
    for row in result["rows"]:
        counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
    print(f"{result['claim']} over {len(result['rows'])} points ({', '.join(result['axes'])}): "
          + ", ".join(f"{count} {verdict}" for verdict, count in counts.items()))
    cached = f" ({result['cached']} from the cache)" if result["cached"] else ""
    print(f"sweep: {result['out']}/sweep.csv, sweep.json, heatmaps sweep_*.png{cached}")


def print_report(summary: JSON) -> None:
    """The verdict table of every check, a tally per claim, and where the report is."""
    print_table(summary["checks"])
    print()
    for claim, counts in report.tally(summary["checks"]).items():
        print(f"{claim}: " + ", ".join(f"{count} {verdict}" for verdict, count in counts.items()))
    for group, error in summary["failures"].items():
        print(f"mla-check: error: the {group} check could not run: {error}", file=sys.stderr)
    for group, note in summary["skipped"].items():
        print(f"mla-check: skipped the {group} check: {note}", file=sys.stderr)
    cached = f" (cached: {', '.join(summary['cached'])})" if summary["cached"] else ""
    print(f"report: {summary['configuration']['out']}/report.md, summary.json{cached}")


def print_nqm_variance(result: JSON) -> None:
    values = [f"{name} {result[key]:.6g}" for key, name in (("variance", "variance"), ("variance_sgd", "SGD"),
                                                           ("ratio", "ratio")) if result[key] is not None]
    print(", ".join(values) + (f"; {result['note']}" if result.get("note") else ""))


# A command: (run, print its result, its result as JSON); the result's type is the command's own.
Command: TypeAlias = tuple[Callable[[argparse.Namespace], Any], Callable[[Any], None], Callable[[Any], Any]]
COMMANDS: dict[str | None, Command] = {  # name: its command; None: every claim check and the report
    None: (run_report, print_report, lambda summary: summary),
    "simulate": (run_simulation, print_summary, lambda result: result.to_dict()),
    "derive": (run_derive, print_derivation, lambda result: result),
    "sweep": (run_sweep, print_sweep, lambda result: result),
    "nqm-variance": (run_nqm_variance, print_nqm_variance, lambda result: result),
}
GROUP_COMMAND: Command = (run_group, print_checks, lambda results: results)  # every check group of the registry


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[list[int]]:
    """Within the block, SIGTERM (``kill``, a batch system's stop) ends the run as Ctrl-C does, so
    that nothing is left half-written: it goes to SIGINT's handler of the moment (Python's, or the
    executor's, which holds it while a cluster starts), or raises KeyboardInterrupt where SIGINT is
    ignored; the signal is recorded in the list yielded. Only in the main thread (where Python runs
    handlers) and where SIGTERM has Python's default action; the previous handler comes back after."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield received
        return

    def handler(signum: int, frame: Any) -> None:
        received.append(signum)
        STOP_REQUESTED.set()  # a local run stops at its next task, should the KeyboardInterrupt be lost
        if frame is not None and "llvmlite" in frame.f_code.co_filename:
            return  # in a ctypes callback (numba loading a kernel), which would drop it with a traceback
        on_interrupt = signal.getsignal(signal.SIGINT)
        if not callable(on_interrupt):
            raise KeyboardInterrupt
        on_interrupt(signal.SIGINT, frame)

    STOP_REQUESTED.clear()
    signal.signal(signal.SIGTERM, handler)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        STOP_REQUESTED.clear()


def main(argv: Iterable[str] | None = None) -> int:
    with _terminate_as_interrupt() as terminated:
        try:
            code = _run(argv)
        except KeyboardInterrupt:
            print("mla-check: terminated" if terminated else "mla-check: interrupted", file=sys.stderr)
            return 128 + signal.SIGTERM if terminated else 130
    if terminated:  # too late to stop: the run had finished, and its results are whole
        print("mla-check: terminated after the run had finished", file=sys.stderr)
        return 128 + signal.SIGTERM
    return code


def _run(argv: Iterable[str] | None) -> int:
    try:
        args = merge_options(build_parser().parse_args(sys.argv[1:] if argv is None else list(argv)))
        run, summarise, as_json = COMMANDS.get(args.command, GROUP_COMMAND)
        with _library_output():
            result = run(args)
    except (UsageError, ValueError) as error:
        print(f"mla-check: error: {error}", file=sys.stderr)
        return 2
    except MemoryError:
        smaller = "--T or --replicates" if args.command == "simulate" else "the size (--quick)"
        print(f"mla-check: error: not enough memory for this run; lower {smaller}", file=sys.stderr)
        return 2
    except (RunFailed, SchedulerError, sweep.PointFailed) as error:
        print(f"mla-check: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # a file-system problem while running
        where = f" ({error.filename})" if error.filename else ""
        print(f"mla-check: error: {error.strerror or error}{where}", file=sys.stderr)
        return 1
    try:
        if args.json:
            print(json_text(as_json(result), indent=None))
        else:
            summarise(result)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader (e.g. head) stopped early: not an error of the run
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1 if args.command is None and result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
