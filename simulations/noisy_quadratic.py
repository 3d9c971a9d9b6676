"""Claim C6 from the command line: a thin script over mla_numeric.checks.nqm.

    python simulations/noisy_quadratic.py [--quick | --full] [--out DIR] [--seed N]

Prints the verdict table (closed-form steady-state loss of SGD, Lookahead and two-layer MLA on the
noisy quadratic model against Monte Carlo and the exact recurrence) and writes the figures
(steady-state variances, loss over time, variance-reduction map), CSV and JSON.
"""
import argparse

from mla_numeric.checks.nqm import run_nqm_checks
from mla_numeric.cli import print_checks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="size", action="store_const", const="quick", help="under 20 s")
    size.add_argument("--full", dest="size", action="store_const", const="full", help="4x longer, 4x more replicates")
    parser.set_defaults(size="default")
    parser.add_argument("--out", default="mla-check-output/nqm")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print_checks(run_nqm_checks(args.out, args.size, args.seed))


if __name__ == "__main__":
    main()
