"""Claims C3, C4 and C5 from a script: `mla-check modified-loss` then `mla-check amplification`.

    python simulations/implicit_regularization.py [--quick | --full] [--seed N]

The check groups are declared in mla_numeric/checks/ and listed in its registry; this script only
runs them, each into its default folder mla-check-output/<group>.
"""
import sys

from mla_numeric.cli import main

if __name__ == "__main__":
    sys.exit(max(main([name] + sys.argv[1:]) for name in ("modified-loss", "amplification")))
