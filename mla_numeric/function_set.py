"""An objective's compiled functions as one numba type, so kernels can be cached on disk.

Kernels could take numba dispatchers as arguments, but a dispatcher's numba type is keyed by the
object's identity, which is new in every process: numba's on-disk cache then never finds the
kernel again and every run recompiles it. Here the functions travel as a ``FunctionSet`` whose
numba type is keyed by the functions' qualified names and a hash of the source files defining
them. A new process finds the cached kernel; an edited objective gets a new key and so a fresh
compile, never a stale one. Functions whose source file cannot be read get a key unique to the
process (correct, just not cached across processes).

Inside a kernel, ``value(functions, x, data)``, ``grad(functions, x, data, out)`` and
``component_grad(functions, x, a, data, out)`` call the objective's own functions.
"""
from __future__ import annotations

import hashlib
import inspect
import pickle
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from numba import types
from numba.extending import NativeValue, models, overload, register_model, typeof_impl, unbox

from ._numba import JIT

if TYPE_CHECKING:
    from ._typing import FloatArray
    from .objectives.base import ComponentGradFunction, Data, GradFunction, Objective, ValueFunction

__all__ = ["FunctionSet", "function_set", "value", "grad", "component_grad"]

_FIELDS = ("value", "grad", "component_grad")
_REGISTRY: dict[str, FunctionSet] = {}  # token -> FunctionSet


class FunctionSet:
    """The compiled functions of one objective family, with a token that names their code."""

    value: ValueFunction
    grad: GradFunction
    component_grad: ComponentGradFunction

    def __init__(self, objective: Objective, token: str) -> None:
        for field in _FIELDS:
            setattr(self, field, getattr(objective, field))
        self.token = token
        _REGISTRY[token] = self


def function_set(objective: Objective) -> FunctionSet:
    """The (shared) FunctionSet of ``objective``'s compiled functions."""
    token = _code_token([getattr(objective, field) for field in _FIELDS])
    return _REGISTRY.get(token) or FunctionSet(objective, token)


def _code_token(functions: Iterable[Callable[..., object]]) -> str:
    """Hash of each function's name, bytecode, constants, closure and defining source file.

    The closure matters: a factory's functions share names and source but not their captured
    values. Anything that cannot be read or pickled makes the token unique to this process.
    """
    digest = hashlib.sha256()
    for function in functions:
        python = getattr(function, "py_func", function)
        code = python.__code__
        digest.update(f"{python.__module__}.{python.__qualname__}\n".encode())
        digest.update(code.co_code + repr(code.co_consts).encode())
        try:
            cells = tuple(cell.cell_contents for cell in python.__closure__ or ())
            digest.update(pickle.dumps(cells))
            path = inspect.getsourcefile(python)
            if path is None:
                raise OSError(f"no source file for {python.__qualname__}")
            with open(path, "rb") as source:
                digest.update(source.read())
        except (TypeError, OSError, ValueError, pickle.PicklingError, AttributeError):
            digest.update(uuid.uuid4().bytes)
    return digest.hexdigest()[:24]


class FunctionSetType(types.Dummy):
    """The numba type of a FunctionSet: no runtime data, keyed by the token."""

    def __init__(self, token: str) -> None:
        self.token = token
        super().__init__(f"FunctionSet[{token}]")

    @property
    def key(self) -> str:
        return self.token


@typeof_impl.register(FunctionSet)
def _typeof_function_set(val: FunctionSet, context: object) -> FunctionSetType:
    return FunctionSetType(val.token)


register_model(FunctionSetType)(models.OpaqueModel)


# numba.core.pythonapi (unbox, NativeValue) has no type information: numba types only part of its
# extension API.
@unbox(FunctionSetType)  # type: ignore[no-untyped-call, untyped-decorator]
def _unbox_function_set(typ: FunctionSetType, obj: object, context: Any) -> NativeValue:
    return NativeValue(context.context.get_dummy_value())  # type: ignore[no-untyped-call]


def value(functions: FunctionSet, x: FloatArray, data: Data) -> float:
    """f(x)."""
    return functions.value(x, data)


def grad(functions: FunctionSet, x: FloatArray, data: Data, out: FloatArray) -> None:
    """out <- grad f(x)."""
    functions.grad(x, data, out)


def component_grad(functions: FunctionSet, x: FloatArray, a: int, data: Data, out: FloatArray) -> None:
    """out <- grad f_a(x)."""
    functions.component_grad(x, a, data, out)


# The implementations below run at compile time on numba types (``functions`` is a
# FunctionSetType) and return the Python function that numba compiles in place of the call.
# They stay unannotated: numba's @overload checks that the two signatures agree, annotations
# included (pyproject.toml). numba's stub of ``overload`` leaves ``cache`` out of ``jit_options``,
# which numba accepts: hence the ignores.

@overload(value, jit_options=JIT)  # type: ignore[arg-type]
def _value(functions, x, data):
    implementation = _REGISTRY[functions.token].value
    return lambda functions, x, data: implementation(x, data)


@overload(grad, jit_options=JIT)  # type: ignore[arg-type]
def _grad(functions, x, data, out):
    implementation = _REGISTRY[functions.token].grad

    def call(functions, x, data, out):
        implementation(x, data, out)
    return call


@overload(component_grad, jit_options=JIT)  # type: ignore[arg-type]
def _component_grad(functions, x, a, data, out):
    implementation = _REGISTRY[functions.token].component_grad

    def call(functions, x, a, data, out):
        implementation(x, a, data, out)
    return call
