"""The objective protocol: compiled functions plus the data they read, and provable metadata.

An objective f: R^d -> R reaches the engine as numba-compiled functions that take its data as
an explicit argument, so the engine compiles once per *family* (and caches), never per instance:

    value(x, data) -> float
    grad(x, data, out)          out[:] = grad f(x)
    hvp(x, v, data, out)        out[:] = Hess f(x) @ v

A finite sum f = (1/m) sum_a f_a also gives, for a component index a in 0..m-1,

    component_value(x, a, data) -> float
    component_grad(x, a, data, out)     out[:] = grad f_a(x)
    component_hvp(x, a, v, data, out)   out[:] = Hess f_a(x) @ v

``data`` is a tuple of NumPy arrays (the instance), ``L`` a global smoothness constant (or
``None`` with the reason), ``f_low`` a proven lower bound. Any family written this way plugs in.
Construction checks the functions against each other and the metadata against the functions at
a few seeded points (``validation.py``), unless ``validate=False``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from typing import Any, TypeAlias

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

from .._numba import JIT
from .._typing import JSON, FloatArray
from .validation import validate as validate_objective

__all__ = ["Objective", "no_component", "no_component_hvp", "Data", "ValueFunction", "GradFunction",
           "HvpFunction", "ComponentValueFunction", "ComponentGradFunction", "ComponentHvpFunction"]

# The compiled functions' signatures (module docstring). Annotations document them for readers and
# type checkers; numba ignores them and types each kernel from the arguments of its calls.
Data: TypeAlias = tuple[NDArray[Any], ...]
ValueFunction: TypeAlias = Callable[[FloatArray, Data], float]                        # value(x, data)
GradFunction: TypeAlias = Callable[[FloatArray, Data, FloatArray], None]              # grad(x, data, out)
HvpFunction: TypeAlias = Callable[[FloatArray, FloatArray, Data, FloatArray], None]   # hvp(x, v, data, out)
ComponentValueFunction: TypeAlias = Callable[[FloatArray, int, Data], float]
ComponentGradFunction: TypeAlias = Callable[[FloatArray, int, Data, FloatArray], None]
ComponentHvpFunction: TypeAlias = Callable[[FloatArray, int, FloatArray, Data, FloatArray], None]


@njit(**JIT)
def no_component(x: FloatArray, a: int, data: Data, out: FloatArray) -> None:
    """Placeholder component gradient for objectives that are not finite sums (never called)."""
    out[:] = np.nan


@njit(**JIT)
def _no_component_value(x: FloatArray, a: int, data: Data) -> float:
    return np.nan


@njit(**JIT)
def no_component_hvp(x: FloatArray, a: int, v: FloatArray, data: Data, out: FloatArray) -> None:
    """Placeholder component Hessian-vector product for non-finite sums (never called)."""
    out[:] = np.nan


@dataclass(frozen=True, eq=False)
class Objective:
    """One objective instance. See the module docstring for the function signatures.

    Parameters
    ----------
    name : str
        The family's registry name (``mla_numeric.objectives.BUILTIN``) or a user's name.
    dim : int
        d.
    data : tuple of ndarray
        The arrays the compiled functions read.
    value, grad, hvp : numba dispatchers
    L : float or None
        A global smoothness constant, or None when f is not globally smooth (``L_reason`` says why).
    f_low : float
        A lower bound on f.
    m : int
        Number of components of a finite sum (0: not a finite sum).
    component_value, component_grad, component_hvp : numba dispatchers, optional
        Required when m > 0.
    params : dict
        What reproduces the instance (generator name, seed, sizes, or the data itself), JSON-ready.
    x0 : ndarray, optional
        A natural starting point (default: zeros).
    variance_bound : float, optional
        A proven bound on sup_x V(x), V = (1/m) sum_a ||grad f_a(x) - grad f(x)||^2: the sigma^2
        of the with-replacement oracle (finite sums only; None when there is none).
    validate : bool, default True
        Check, at 4 seeded points around ``x0`` (about 60 evaluations; ``validation.py`` has the
        math and the tolerances), that grad is the derivative of value and hvp that of grad (and
        likewise for the components, whose mean must be f), that gradient-difference quotients
        stay below L, f above f_low and the minibatch variance below variance_bound; a failure
        raises ValueError naming the quantity, the point and the size of the violation.
        ``validate=False`` skips all of these, for objectives too costly to evaluate that often;
        the checks of dim, x0, L_reason and the component functions still run. Not stored:
        ``dataclasses.replace`` validates again unless given ``validate=False``.
    """

    name: str
    dim: int
    data: Data
    value: ValueFunction
    grad: GradFunction
    hvp: HvpFunction
    L: float | None
    f_low: float
    L_reason: str = ""
    m: int = 0
    component_value: ComponentValueFunction = _no_component_value
    component_grad: ComponentGradFunction = no_component
    component_hvp: ComponentHvpFunction = no_component_hvp
    params: JSON = field(default_factory=dict)
    x0: ArrayLike | None = None
    variance_bound: float | None = None
    validate: InitVar[bool] = True

    def __post_init__(self, validate: bool) -> None:
        if self.dim < 1:
            raise ValueError(f"dim must be >= 1, got {self.dim}")
        if self.x0 is not None and np.shape(self.x0) != (self.dim,):
            raise ValueError(f"objective {self.name!r}: x0 must have shape ({self.dim},), "
                             f"got {np.shape(self.x0)}")
        if self.L is None and not self.L_reason:
            raise ValueError(f"objective {self.name!r}: L is None, so L_reason must say why")
        if self.m > 0:
            missing = [name for name, placeholder in (("component_grad", no_component),
                                                      ("component_hvp", no_component_hvp))
                       if getattr(self, name) is placeholder]
            if missing:
                raise ValueError(f"objective {self.name!r}: a finite sum (m = {self.m}) needs "
                                 f"{' and '.join(missing)}")
        if validate:
            validate_objective(self)

    @property
    def is_finite_sum(self) -> bool:
        return self.m > 0

    def start(self) -> FloatArray:
        """The default starting point."""
        return np.zeros(self.dim) if self.x0 is None else np.array(self.x0, dtype=np.float64)

    # Convenience wrappers around the compiled functions (Python-side use and tests).
    def f(self, x: ArrayLike) -> float:
        return self.value(np.asarray(x, dtype=np.float64), self.data)

    def gradient(self, x: ArrayLike) -> FloatArray:
        out = np.empty(self.dim)
        self.grad(np.asarray(x, dtype=np.float64), self.data, out)
        return out

    def hessian_vector(self, x: ArrayLike, v: ArrayLike) -> FloatArray:
        out = np.empty(self.dim)
        self.hvp(np.asarray(x, dtype=np.float64), np.asarray(v, dtype=np.float64), self.data, out)
        return out

    def component(self, x: ArrayLike, a: int) -> float:
        self._check_component(a)
        return self.component_value(np.asarray(x, dtype=np.float64), a, self.data)

    def component_gradient(self, x: ArrayLike, a: int) -> FloatArray:
        self._check_component(a)
        out = np.empty(self.dim)
        self.component_grad(np.asarray(x, dtype=np.float64), a, self.data, out)
        return out

    def component_hessian_vector(self, x: ArrayLike, a: int, v: ArrayLike) -> FloatArray:
        self._check_component(a)
        out = np.empty(self.dim)
        self.component_hvp(np.asarray(x, dtype=np.float64), a, np.asarray(v, dtype=np.float64),
                           self.data, out)
        return out

    def _check_component(self, a: int) -> None:
        if not 0 <= a < self.m:
            raise ValueError(f"component index a must be in 0..{self.m - 1} for {self.name!r}, got {a}")

    def to_dict(self) -> JSON:
        return {"name": self.name, "dim": self.dim, "L": self.L, "L_reason": self.L_reason or None,
                "f_low": self.f_low, "m": self.m, "variance_bound": self.variance_bound,
                "params": self.params}
