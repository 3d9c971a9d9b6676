"""The optimizer: n-layer nested Lookahead (MLA), with SGD (n = 0) and Lookahead (n = 1).

Layers i = 1..n, innermost first, each an integer period k_i >= 1 and a step alpha_i in (0, 1];
eta > 0 is the inner learning rate.

    S_0(x)   = x - eta * G(x, xi)
    S_i(phi) = phi + alpha_i * (S_{i-1}^{k_i}(phi) - phi)

One top-level iteration is S_n; it makes K = prod_i k_i oracle calls and P = prod_i alpha_i is
the weight with which each call reaches the slow weights (THEORY.md, cycle lemma).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np

from ._typing import JSON, FloatArray, IntArray, Layers

MAX_CALLS_PER_ITERATION = 2 ** 31  # K, the oracle calls of one top-level iteration

__all__ = ["MLA", "parse_layers", "format_layers", "check_positive", "check_real", "check_finite_array"]


@overload
def check_positive(name: str, value: object, *, integer: Literal[True]) -> int: ...


@overload
def check_positive(name: str, value: object, *, integer: Literal[False] = ...) -> float: ...


def check_positive(name: str, value: object, *, integer: bool = False) -> int | float:
    """Return ``value`` if it is a finite number > 0 (an integer >= 1 if ``integer``)."""
    if integer:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        return int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def check_real(name: str, value: object, *, nonnegative: bool = False) -> float:
    """Return ``value`` as a float if it is a finite real number (>= 0 if ``nonnegative``)."""
    bound = " >= 0" if nonnegative else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or (nonnegative and value < 0):
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return float(value)


def check_finite_array(name: str, value: object, shape: tuple[int, ...]) -> FloatArray:
    """Return ``value`` as a float64 array of ``shape`` with only finite entries."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of finite numbers, got {value!r}") from None
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite; entries {np.flatnonzero(~np.isfinite(array)).tolist()} are not")
    return array


@dataclass(frozen=True)
class MLA:
    """Nested Lookahead with ``layers = [(k_1, alpha_1), ..., (k_n, alpha_n)]`` and ``lr = eta``.

    Parameters
    ----------
    layers : sequence of (int, float)
        Innermost layer first; ``[]`` is SGD, one layer is Lookahead.
    lr : float
        Inner (fast-weight) learning rate eta > 0.
    """

    layers: Layers
    lr: float

    def __init__(self, layers: Iterable[tuple[int, float]] = (), lr: float = 0.1):
        checked: list[tuple[int, float]] = []
        for i, layer in enumerate(layers, start=1):
            try:
                k, alpha = layer
            except (TypeError, ValueError):
                raise ValueError(f"layer {i} must be a pair (k_{i}, alpha_{i}), got {layer!r}") from None
            k = check_positive(f"k_{i}", k, integer=True)
            if k > MAX_CALLS_PER_ITERATION:
                raise ValueError(f"k_{i} must be at most {MAX_CALLS_PER_ITERATION}, got {k}")
            if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) \
                    or not (math.isfinite(alpha) and 0 < float(alpha) <= 1):
                raise ValueError(f"alpha_{i} must be in (0, 1], got {alpha!r}")
            checked.append((k, float(alpha)))
        if math.prod(k for k, _ in checked) > MAX_CALLS_PER_ITERATION:
            raise ValueError(f"K = k_1 ... k_n must be at most {MAX_CALLS_PER_ITERATION}, "
                             f"got {math.prod(k for k, _ in checked)}")
        object.__setattr__(self, "layers", tuple(checked))
        object.__setattr__(self, "lr", check_positive("lr (eta)", lr))

    @property
    def depth(self) -> int:
        """n, the number of Lookahead layers."""
        return len(self.layers)

    @property
    def ks(self) -> IntArray:
        return np.array([k for k, _ in self.layers], dtype=np.int64)

    @property
    def alphas(self) -> FloatArray:
        return np.array([a for _, a in self.layers], dtype=np.float64)

    @property
    def K(self) -> int:
        """Oracle calls per top-level iteration, prod_i k_i."""
        return math.prod(k for k, _ in self.layers)

    @property
    def P(self) -> float:
        """prod_i alpha_i."""
        return math.prod(a for _, a in self.layers)

    def pair_weights(self) -> FloatArray:
        """The K x K matrix d[j, l] (0-based) of the cycle lemma, zero on and below the diagonal.

        For steps j < l of one top-level cycle, s(j, l) is the lowest level whose current cycle
        holds both, and d_jl = prod_{i < s(j, l)} alpha_i. Level i's cycles are blocks of
        B_i = k_1 ... k_i consecutive steps.
        """
        K = self.K
        d = np.zeros((K, K))
        for j in range(K):
            for l in range(j + 1, K):
                weight, block = 1.0, 1
                for k, alpha in self.layers:
                    block *= k
                    if j // block == l // block:
                        break
                    weight *= alpha
                d[j, l] = weight
        return d

    def describe(self) -> str:
        return f"{format_layers(self.layers)} (lr={self.lr:g}, K={self.K}, P={self.P:g})"

    def to_dict(self) -> JSON:
        return {"layers": [list(layer) for layer in self.layers], "lr": self.lr,
                "spec": format_layers(self.layers), "K": self.K, "P": self.P}


def parse_layers(text: str) -> list[tuple[int, float]]:
    """Parse the command-line spelling ``5:0.5,5:0.5`` (innermost first); ``sgd`` is no layer."""
    text = text.strip()
    if text.lower() == "sgd":
        return []
    layers: list[tuple[int, float]] = []
    for i, item in enumerate(text.split(","), start=1):
        parts = item.split(":")
        if len(parts) != 2:
            raise ValueError(f"--layers: layer {i} {item!r} is not K:ALPHA "
                             f"(write e.g. 5:0.5,5:0.5, innermost first, or 'sgd')")
        try:
            k, alpha = int(parts[0]), float(parts[1])
        except ValueError:
            raise ValueError(f"--layers: layer {i} {item!r} needs an integer k >= 1 and "
                             f"alpha in (0, 1], e.g. 5:0.5") from None
        layers.append((k, alpha))
    return layers


def format_layers(layers: Iterable[tuple[int, float]]) -> str:
    return ",".join(f"{k}:{alpha:g}" for k, alpha in layers) or "sgd"
