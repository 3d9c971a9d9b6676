"""Numba settings shared by every kernel (one place, no scattered literals).

fastmath stays off: kernels must agree with their NumPy twins to rounding.

With numba's OpenMP threading layer, libgomp's default spin-waiting makes every parallel launch
cost milliseconds when another process holds a core (common on 2-core machines); passive waiting
costs microseconds and does not slow our long parallel regions. Users can still override it.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

JIT = dict(cache=True, fastmath=False, nogil=True)
PARALLEL = dict(JIT, parallel=True)
