"""Time and peak memory of the symbolic pillar, against K, against n, and for symbolic layers.

Run by hand: ``python benchmarks/bench_symbolic.py``. It prints one table per sweep:

- numeric ``derivation`` (what ``mla-check derive`` computes) and ``nqm_variance`` (``mla-check
  nqm-variance --lr 0.05 --curvature 3 --noise 1``) for K from 4 to 10^6, and for n = 1..8 layers;
- symbolic layers (``layer_symbols(n)``): D, lambda, (c_g, c_v), the bound, M_n and V / V_SGD,
  for n = 0..6.

Times are the median of ``REPEATS`` calls, each after clearing sympy's cache (so a call cannot
reuse the previous one's results); "first" is the first call of the process, which also pays for
sympy's lazy imports. Peak memory is traced (tracemalloc) over one further call.
Targets (issue 13): numeric derive and nqm-variance under 50 ms and 100 MB for K up to 10^6,
growing with n, not K.
"""
import statistics
import time
import tracemalloc

from sympy.core.cache import clear_cache

from mla_numeric.spec import parse_layers
from mla_numeric.symbolic import (
    contraction,
    convergence_bound,
    full_batch_coefficient,
    layer_symbols,
    pair_weight_sum,
    reshuffled_coefficients,
    variance_ratio,
)
from mla_numeric.symbolic.summary import derivation, nqm_variance

REPEATS = 7
BY_K = ["4:0.5", "10:0.5,10:0.5", "20:0.5,20:0.5", "1000:0.5", "6:0.274,4:0.812,6:0.172,6:0.494",
        "100:0.5,100:0.5", "1000:0.5,1000:0.5", "100:0.5,100:0.5,100:0.5", "1000000:0.5"]
ALPHAS = ["0.274", "0.812", "0.172", "0.494", "0.37", "0.1", "0.9", "0.5"]
BY_N = [",".join(f"5:{alpha}" for alpha in ALPHAS[:n]) for n in range(1, 9)]


def measure(call) -> tuple:
    """(first call ms, median warm ms, peak MiB) of ``call()``."""
    start = time.perf_counter()
    call()
    first = time.perf_counter() - start
    times = []
    for _ in range(REPEATS):
        clear_cache()
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    clear_cache()
    tracemalloc.start()
    call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return 1e3 * first, 1e3 * statistics.median(times), peak / 2 ** 20


def numeric_table(title: str, specs) -> None:
    print(f"\n{title}")
    print(f"{'layers':<56} {'n':>2} {'K':>9} | {'derive ms':>9} {'first':>7} {'MiB':>6} | "
          f"{'nqm-variance ms':>15} {'first':>7} {'MiB':>6}")
    for spec in specs:
        layers = parse_layers(spec)
        K = 1
        for k, _ in layers:
            K *= k
        derive = measure(lambda layers=layers: derivation(layers, 2))
        nqm = measure(lambda layers=layers: nqm_variance(layers, 0.05, 3.0, 1.0))
        print(f"{spec:<56} {len(layers):>2} {K:>9} | {derive[1]:>9.2f} {derive[0]:>7.1f} {derive[2]:>6.2f} | "
              f"{nqm[1]:>15.2f} {nqm[0]:>7.1f} {nqm[2]:>6.2f}")


def symbolic_layers(n: int) -> None:
    """Everything derive states, for symbolic layers."""
    layers = layer_symbols(n)
    pair_weight_sum(layers)
    full_batch_coefficient(layers)
    reshuffled_coefficients(layers)
    convergence_bound(layers)
    contraction(layers)
    str(variance_ratio(layers))


def symbolic_table() -> None:
    print("\nsymbolic layers: D, lambda, c_g, c_v, bound, M_n, V / V_SGD (printed)")
    print(f"{'n':>2} | {'ms':>8} {'first':>7} {'MiB':>6}")
    for n in range(7):
        first, warm, peak = measure(lambda n=n: symbolic_layers(n))
        print(f"{n:>2} | {warm:>8.2f} {first:>7.1f} {peak:>6.2f}")


if __name__ == "__main__":
    numeric_table("numeric layers against K (derive with 2 cycles an epoch)", BY_K)
    numeric_table("numeric layers against n (k_i = 5)", BY_N)
    symbolic_table()
