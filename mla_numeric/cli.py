"""The ``mla-check`` command: argument parsing and error messages only.

Errors in the arguments exit with status 2 and one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings

from . import __version__, objectives
from .engine import simulate
from .oracles import ORACLES, make_oracle
from .spec import MLA, parse_layers

DEFAULTS = dict(objective="robust-regression", layers="5:0.5,5:0.5", lr=0.05, T=200, seeds=32,
                sigma=1.0, oracle="gaussian")


class UsageError(Exception):
    """Bad arguments: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mla-check", description="Check the theory of nested (multilayer) Lookahead "
                     "numerically. Without a subcommand: 'mla-check simulate' with its defaults "
                     "(two-layer MLA on robust regression).")
    parser.add_argument("--version", action="version", version=f"mla-check {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sim = commands.add_parser("simulate", help="simulate SGD, Lookahead or n-layer MLA on an objective",
                              description="Simulate an optimizer over many replicates and print the "
                              "mean and standard error of f(phi_t) and ||grad f(phi_t)||^2, t = 0..T.")
    sim.add_argument("--objective", default=DEFAULTS["objective"], metavar="NAME",
                     help=f"one of {', '.join(objectives.BUILTIN)} (default %(default)s)")
    sim.add_argument("--dim", type=int, default=None, metavar="D", help="dimension (default: the family's own, e.g. 10; 2 for valley)")
    sim.add_argument("--data-seed", type=int, default=0, metavar="N",
                     help="seed of the objective's data generator (default %(default)s)")
    sim.add_argument("--layers", default=DEFAULTS["layers"], metavar="SPEC",
                     help="k:alpha per layer, innermost first, e.g. 5:0.5,5:0.5; 'sgd' for none "
                          "(default %(default)s)")
    sim.add_argument("--lr", type=float, default=DEFAULTS["lr"], metavar="ETA",
                     help="inner learning rate eta > 0 (default %(default)s)")
    sim.add_argument("--T", type=int, default=DEFAULTS["T"], help="top-level iterations (default %(default)s)")
    sim.add_argument("--seeds", type=int, default=DEFAULTS["seeds"], metavar="R",
                     help="number of replicates, each with its own random stream (default %(default)s)")
    sim.add_argument("--sigma", type=float, default=None, metavar="S",
                     help="gaussian oracle: total noise level, E||G - grad f||^2 = S^2 (default 1). "
                          "For nqm without --sigma: the model's own noise, sd h_i s_i per coordinate")
    sim.add_argument("--oracle", default=DEFAULTS["oracle"], metavar="NAME",
                     help=f"one of {', '.join(ORACLES)} (default %(default)s)")
    sim.add_argument("--seed", type=int, default=0, metavar="N",
                     help="base seed of the replicates' random streams (default %(default)s)")
    sim.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    return parser


def run_simulation(args) -> dict:
    objective = objectives.make(args.objective, args.dim, args.data_seed)
    if args.oracle == "gaussian" and args.sigma is None and objective.name == "nqm":
        oracle = objectives.nqm_noise(objective)
    else:
        oracle = make_oracle(args.oracle, 1.0 if args.sigma is None else args.sigma)
    optimizer = MLA(parse_layers(args.layers), args.lr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = simulate(objective, optimizer, args.T, args.seeds, oracle, seed=args.seed,
                          keep="summary")
    for warning in caught:
        print(f"mla-check: warning: {warning.message}", file=sys.stderr)
    return result


def print_summary(result) -> None:
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


def _error(summary, t) -> str:
    """The standard error at t, shown as 0 where it is rounding noise (identical replicates)."""
    stderr = summary.stderr[t]
    return "0" if stderr <= 1e-12 * abs(summary.mean[t]) else f"{stderr:.2g}"


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            args = build_parser().parse_args(["simulate", *([] if argv is None else argv)])
        result = run_simulation(args)
    except (UsageError, ValueError) as error:
        print(f"mla-check: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mla-check: interrupted", file=sys.stderr)
        return 130
    if args.json:
        json.dump(result.to_dict(), sys.stdout)
        print()
    else:
        print_summary(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
