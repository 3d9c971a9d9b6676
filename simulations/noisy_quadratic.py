"""Claims C6 from a script: the same as `mla-check nqm [--quick | --full] [--out DIR] [--seed N] [--json]`.

The check group is declared in mla_numeric/checks/ and listed in its registry; this script only runs it.
"""
import sys

from mla_numeric.cli import main

if __name__ == "__main__":
    sys.exit(main(["nqm"] + sys.argv[1:]))
