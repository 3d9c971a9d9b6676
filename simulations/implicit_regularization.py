"""Claims C3, C4 and C5 from the command line: a thin script over mla_numeric.checks.

    python simulations/implicit_regularization.py [--size quick|default|full] [--out DIR] [--seed N]

Runs the order-of-accuracy checks of the modified losses (C3 full batch, C4 reshuffled), then the
amplification maps, table and valley-drift checks (C5); prints both verdict tables and writes
figures (PNG) and data (CSV, JSON) into DIR/modified-loss and DIR/amplification (default mla-check-output).
"""
import argparse
from pathlib import Path

from mla_numeric.checks.amplification import SIZES, run_amplification_checks
from mla_numeric.checks.modified_loss import run_modified_loss_checks
from mla_numeric.cli import print_checks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=list(SIZES), default="default")
    parser.add_argument("--out", default="mla-check-output")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    print_checks(run_modified_loss_checks(out / "modified-loss", args.size, seed=args.seed))
    print()
    print_checks(run_amplification_checks(out / "amplification", args.size, seed=args.seed))


if __name__ == "__main__":
    main()
