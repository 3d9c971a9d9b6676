"""Numba settings shared by every kernel (one place, no scattered literals).

fastmath stays off: kernels must agree with their NumPy twins to rounding.

With numba's OpenMP threading layer, libgomp's default spin-waiting makes every parallel launch
cost milliseconds when another process holds a core (common on 2-core machines); passive waiting
costs microseconds and does not slow our long parallel regions. Users can still override it.
"""
import os
from typing import TypedDict

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class JitOptions(TypedDict):
    """The keyword arguments of ``numba.njit`` used here (a TypedDict, so that type checkers
    match each to njit's parameter when unpacked as ``njit(**JIT)``)."""

    cache: bool
    fastmath: bool
    nogil: bool


class ParallelOptions(JitOptions):
    parallel: bool


JIT = JitOptions(cache=True, fastmath=False, nogil=True)
PARALLEL = ParallelOptions(**JIT, parallel=True)
