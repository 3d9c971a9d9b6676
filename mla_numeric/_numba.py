"""Numba settings shared by every kernel (one place, no scattered literals).

fastmath stays off: kernels must agree with their NumPy twins to rounding.
"""
JIT = dict(cache=True, fastmath=False, nogil=True)
PARALLEL = dict(JIT, parallel=True)
