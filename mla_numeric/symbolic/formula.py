"""A derived result: a sympy expression that renders as LaTeX and evaluates to a number."""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

__all__ = ["Formula"]


@dataclass(frozen=True)
class Formula:
    """``expr`` in eta, k_i, alpha_i, N (and whatever else it names), with a short description."""

    expr: sp.Expr
    description: str = ""

    def latex(self) -> str:
        return sp.latex(self.expr)

    def __str__(self) -> str:
        return str(self.expr)

    def subs(self, layers=None, **values) -> "Formula":
        """Substitute numeric ``layers = [(k_1, alpha_1), ...]`` and symbols given by name, exactly
        (floats become the rationals of their decimal form).

        Names the expression does not contain are ignored (a coefficient may not depend on them).
        """
        substitutions = {symbol: sp.nsimplify(value, rational=True) if isinstance(value, float) else value
                         for symbol, value in self._values(layers, values).items()}
        return Formula(sp.simplify(self.expr.subs(substitutions)), self.description)

    def evaluate(self, layers=None, **values) -> float:
        """The float value once every symbol is given."""
        result = self.expr.subs(self._values(layers, values))
        if result.free_symbols:
            raise ValueError(f"{self.description or 'formula'} still depends on "
                             f"{sorted(s.name for s in result.free_symbols)}")
        return float(result.evalf())

    def numpy(self, **values):
        """The value element-wise over NumPy arrays (broadcast), every symbol given by name."""
        symbols = sorted(self.expr.free_symbols, key=lambda symbol: symbol.name)
        missing = [symbol.name for symbol in symbols if symbol.name not in values]
        if missing:
            raise ValueError(f"{self.description or 'formula'} needs values for {missing}")
        return sp.lambdify(symbols, self.expr, "numpy")(*(values[symbol.name] for symbol in symbols))

    def _values(self, layers, values) -> dict:
        mapping = dict(values)
        for i, (k, alpha) in enumerate(layers or [], start=1):
            mapping[f"k_{i}"], mapping[f"alpha_{i}"] = k, alpha
        return {symbol: mapping[symbol.name] for symbol in self.expr.free_symbols if symbol.name in mapping}
