"""mla-numeric: numerical and symbolic checks of nested (multilayer) Lookahead theory.

Public names: ``MLA`` (the optimizer spec), ``simulate`` (the numba engine), the oracles,
``objectives`` (built-in families and the protocol for your own) and ``moments`` (exact
expectations for quadratics).
"""
from . import moments, objectives
from ._version import __version__
from .engine import DivergenceWarning, SimulationResult, simulate
from .oracles import GaussianNoise, RandomReshuffling, WithReplacement
from .spec import MLA

__all__ = ["MLA", "simulate", "SimulationResult", "DivergenceWarning", "GaussianNoise",
           "WithReplacement", "RandomReshuffling", "objectives", "moments", "__version__"]
