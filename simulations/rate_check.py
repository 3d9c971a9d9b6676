"""Claims C1 and C2 from the command line: a thin script over mla_numeric.checks.rate.

    python simulations/rate_check.py [--objective NAME ...] [--layers 5:0.5,5:0.5]
                                     [--size quick|default|full] [--out DIR]

Prints the verdict table and writes a figure, a CSV and a JSON per objective and oracle.
"""
import argparse

from mla_numeric.checks.rate import SIZES, run_rate_checks
from mla_numeric.cli import print_checks
from mla_numeric.spec import parse_layers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objective", action="append", help="repeat for several (default: all)")
    parser.add_argument("--layers", default="5:0.5,5:0.5")
    parser.add_argument("--size", choices=list(SIZES), default="default")
    parser.add_argument("--out", default="mla-check-output/rate")
    args = parser.parse_args()
    print_checks(run_rate_checks(args.out, args.objective, parse_layers(args.layers), args.size))


if __name__ == "__main__":
    main()
