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
import hashlib
import inspect
import pickle
import uuid

from numba import types
from numba.extending import NativeValue, models, overload, register_model, typeof_impl, unbox

from ._numba import JIT

__all__ = ["FunctionSet", "function_set", "value", "grad", "component_grad"]

_FIELDS = ("value", "grad", "component_grad")
_REGISTRY = {}  # token -> FunctionSet


class FunctionSet:
    """The compiled functions of one objective family, with a token that names their code."""

    def __init__(self, objective, token: str):
        for field in _FIELDS:
            setattr(self, field, getattr(objective, field))
        self.token = token
        _REGISTRY[token] = self


def function_set(objective) -> FunctionSet:
    """The (shared) FunctionSet of ``objective``'s compiled functions."""
    token = _code_token([getattr(objective, field) for field in _FIELDS])
    return _REGISTRY.get(token) or FunctionSet(objective, token)


def _code_token(functions) -> str:
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
            with open(inspect.getsourcefile(python), "rb") as source:
                digest.update(source.read())
        except (TypeError, OSError, ValueError, pickle.PicklingError, AttributeError):
            digest.update(uuid.uuid4().bytes)
    return digest.hexdigest()[:24]


class FunctionSetType(types.Dummy):
    """The numba type of a FunctionSet: no runtime data, keyed by the token."""

    def __init__(self, token):
        self.token = token
        super().__init__(f"FunctionSet[{token}]")

    @property
    def key(self):
        return self.token


@typeof_impl.register(FunctionSet)
def _typeof_function_set(val, context):
    return FunctionSetType(val.token)


register_model(FunctionSetType)(models.OpaqueModel)


@unbox(FunctionSetType)
def _unbox_function_set(typ, obj, context):
    return NativeValue(context.context.get_dummy_value())


def value(functions, x, data):
    """f(x)."""
    return functions.value(x, data)


def grad(functions, x, data, out):
    """out <- grad f(x)."""
    functions.grad(x, data, out)


def component_grad(functions, x, a, data, out):
    """out <- grad f_a(x)."""
    functions.component_grad(x, a, data, out)


@overload(value, jit_options=JIT)
def _value(functions, x, data):
    implementation = _REGISTRY[functions.token].value
    return lambda functions, x, data: implementation(x, data)


@overload(grad, jit_options=JIT)
def _grad(functions, x, data, out):
    implementation = _REGISTRY[functions.token].grad

    def call(functions, x, data, out):
        implementation(x, data, out)
    return call


@overload(component_grad, jit_options=JIT)
def _component_grad(functions, x, a, data, out):
    implementation = _REGISTRY[functions.token].component_grad

    def call(functions, x, a, data, out):
        implementation(x, a, data, out)
    return call
