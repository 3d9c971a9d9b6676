"""Claims C1 and C2 from a script: the same as `mla-check rate [--quick | --full] [--out DIR] [--seed N] [--json]`.

The check group is declared in mla_numeric/checks/ and listed in its registry; this script only runs it.
"""
import sys

from mla_numeric.cli import main

if __name__ == "__main__":
    sys.exit(main(["rate"] + sys.argv[1:]))
