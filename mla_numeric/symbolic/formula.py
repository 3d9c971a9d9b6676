"""A derived result: a sympy expression that renders as LaTeX and evaluates to a number."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import sympy as sp

__all__ = ["Formula", "exact", "LayersLike", "SymbolicLayers"]

# sympy ships no type information: its objects (sp.Expr below) are Any to a type checker.
SymbolicLayers: TypeAlias = list[tuple[sp.Expr, sp.Expr]]
"""Layers as exact sympy numbers or symbols, [(k_1, alpha_1), ...], innermost first."""
LayersLike: TypeAlias = int | Iterable[tuple[Any, Any]]
"""Layers given as numbers (floats become exact rationals) or sympy symbols, or an int n for n
symbolic layers (``structure.as_layers``)."""


def exact(value: object) -> sp.Expr:
    """``value`` as an exact sympy number or expression; a float becomes the rational of its decimal
    form (``0.274 -> 137/500``, the number a user typed; ``sp.nsimplify`` would turn 0.6211 into a
    product of irrational powers and 0.9999999999 into 1)."""
    value = sp.sympify(value)
    return sp.Rational(repr(float(value))) if isinstance(value, sp.Float) else value


@dataclass(frozen=True)
class Formula:
    """``expr`` in eta, k_i, alpha_i, N (and whatever else it names), with a short description.

    ``numeric``, when given, evaluates the formula by name (keyword arguments, NumPy arrays
    broadcast) more accurately than the expression as written would in floating point; ``numpy``
    and ``evaluate`` use it in place of the expression.
    """

    expr: sp.Expr
    description: str = ""
    numeric: Callable[..., Any] | None = field(default=None, compare=False, repr=False)

    def latex(self) -> str:
        return str(sp.latex(self.expr))

    def __str__(self) -> str:
        return str(self.expr)

    def subs(self, layers: Iterable[tuple[Any, Any]] | None = None, **values: Any) -> Formula:
        """Substitute numeric ``layers = [(k_1, alpha_1), ...]`` and symbols given by name, exactly
        (floats become the rationals of their decimal form), without simplifying.

        Names the expression does not contain are ignored (a coefficient may not depend on them).
        """
        named = self._named(layers, values)
        substitutions = {symbol: exact(named[symbol.name]) for symbol in self.expr.free_symbols
                         if symbol.name in named}
        given = self.numeric
        numeric = None if given is None else lambda **rest: given(**{**named, **rest})
        return Formula(self.expr.subs(substitutions), self.description, numeric)

    def evaluate(self, layers: Iterable[tuple[Any, Any]] | None = None, **values: Any) -> float:
        """The float value once every symbol is given."""
        named = self._named(layers, values)
        if self.numeric is not None:
            return float(self.numpy(**named))
        result = self.expr.subs({symbol: named[symbol.name] for symbol in self.expr.free_symbols
                                 if symbol.name in named})
        if result.free_symbols:
            raise ValueError(f"{self.description or 'formula'} still depends on "
                             f"{sorted(s.name for s in result.free_symbols)}")
        return float(result.evalf())

    def numpy(self, **values: Any) -> Any:
        """The value element-wise over NumPy arrays (broadcast), every symbol given by name."""
        symbols = sorted(self.expr.free_symbols, key=lambda symbol: symbol.name)
        missing = [symbol.name for symbol in symbols if symbol.name not in values]
        if missing:
            raise ValueError(f"{self.description or 'formula'} needs values for {missing}")
        if self.numeric is not None and symbols:
            return self.numeric(**values)
        return sp.lambdify(symbols, self.expr, "numpy")(*(values[symbol.name] for symbol in symbols))

    @staticmethod
    def _named(layers: Iterable[tuple[Any, Any]] | None, values: dict[str, Any]) -> dict[str, Any]:
        named = dict(values)
        for i, (k, alpha) in enumerate(layers or [], start=1):
            named[f"k_{i}"], named[f"alpha_{i}"] = k, alpha
        return named
