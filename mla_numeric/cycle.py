"""One top-level MLA iteration from the recursive definition, generic over the value type.

    S_0(x) = step(x, j)                                  (the j-th fast step of the cycle)
    S_i(phi) = phi + alpha_i (S_{i-1}^{k_i}(phi) - phi)

``phi`` can be anything with +, - and multiplication by a scalar: a NumPy vector, a matrix of an
affine map (moments.py), a sympy expression. The numba engine implements the same iteration in
counter form for speed; the tests hold the two together.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

__all__ = ["nested_cycle", "Vector"]


class Vector(Protocol):
    """What ``nested_cycle`` needs of a value: phi + alpha (x - phi) is again a value."""

    def __add__(self, other: Any, /) -> Any: ...

    def __sub__(self, other: Any, /) -> Any: ...

    def __rmul__(self, scalar: float, /) -> Any: ...


V = TypeVar("V", bound=Vector)


def nested_cycle(phi: V, step: Callable[[V, int], V], layers: Sequence[tuple[int, float]]) -> V:
    """S_n(phi) for ``layers = [(k_1, alpha_1), ..., (k_n, alpha_n)]`` (innermost first).

    ``step(x, j)`` is one fast step from x, with j = 0..K-1 its index within the cycle.
    """
    counter = itertools.count()

    def apply(level: int, start: V) -> V:
        if level == 0:
            return step(start, next(counter))
        k, alpha = layers[level - 1]
        x = start
        for _ in range(k):
            x = apply(level - 1, x)
        result: V = start + alpha * (x - start)
        return result

    return apply(len(layers), phi)
