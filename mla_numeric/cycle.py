"""One top-level MLA iteration from the recursive definition, generic over the value type.

    S_0(x) = step(x, j)                                  (the j-th fast step of the cycle)
    S_i(phi) = phi + alpha_i (S_{i-1}^{k_i}(phi) - phi)

``phi`` can be anything with +, - and multiplication by a scalar: a NumPy vector, a matrix of an
affine map (moments.py), a sympy expression. The numba engine implements the same iteration in
counter form for speed; the tests hold the two together.
"""
import itertools

__all__ = ["nested_cycle"]


def nested_cycle(phi, step, layers):
    """S_n(phi) for ``layers = [(k_1, alpha_1), ..., (k_n, alpha_n)]`` (innermost first).

    ``step(x, j)`` is one fast step from x, with j = 0..K-1 its index within the cycle.
    """
    counter = itertools.count()

    def apply(level, start):
        if level == 0:
            return step(start, next(counter))
        k, alpha = layers[level - 1]
        x = start
        for _ in range(k):
            x = apply(level - 1, x)
        return start + alpha * (x - start)

    return apply(len(layers), phi)
