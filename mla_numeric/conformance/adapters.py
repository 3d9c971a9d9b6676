"""Adapters for optax and PyTorch optimizers, and the built-in implementations of claim C8.

``optax_adapter`` and ``torch_adapter`` turn any optax ``GradientTransformation`` or any
``torch.optim.Optimizer`` factory into an ``Adapter`` (harness.py); both work in float64.

Built-in implementations (``IMPLEMENTATIONS``). Each is a construction written as its library's
documentation writes a Lookahead, nested once per layer; the construction text is executed as
shown, so the report shows exactly what ran:

- optax ``lookahead`` (optax docs: ``optax.lookahead(fast_opt, sync_period, slow_step_size)`` with
  ``optax.LookaheadParams.init_synced(params)``), nested literally with sync_period = k_i, and
  with sync_period = k_1 ... k_i (optax counts every call it sees);
- ``torch_optimizer.Lookahead(optimizer, k, alpha)`` (torch-optimizer README),
  ``pytorch_optimizer.Lookahead(optimizer, k, alpha)`` (its docstring) and
  ``timm.optim.Lookahead(base_optimizer, alpha, k)`` (timm), each nested with k = k_i and with
  k = k_1 ... k_i;
- the correct nestings of ``mla_numeric.contrib`` for optax and torch.
"""
from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._typing import FloatArray, Layers
from .harness import Adapter

if TYPE_CHECKING:  # optional extras, imported where used; Any to mypy (pyproject.toml)
    import optax
    import torch

__all__ = ["optax_adapter", "torch_adapter", "Implementation", "IMPLEMENTATIONS", "missing_modules"]


def _follow(tree: Any, name: str) -> Any:
    """Follow attribute ``name`` while it exists (nested LookaheadParams: .fast.fast...)."""
    while hasattr(tree, name):
        tree = getattr(tree, name)
    return tree


def optax_adapter(transformation: optax.GradientTransformation, params: Callable[[Any], Any] | None = None,
                  fast: Callable[[Any], Any] | None = None, slow: Callable[[Any], Any] | None = None) -> Adapter:
    """An optax ``GradientTransformation`` as an ``Adapter`` (float64, jitted update).

    Parameters
    ----------
    transformation : optax.GradientTransformation
    params : callable, optional
        x0 (a float64 jax array) -> the parameter pytree the transformation expects (default x0).
    fast, slow : callable, optional
        params -> fast weights / outermost slow weights (default: follow ``.fast`` / ``.slow``).
    """
    import jax
    import jax.numpy as jnp
    import optax

    make = params or (lambda x: x)
    fast = fast or (lambda p: _follow(p, "fast"))
    slow = slow or (lambda p: _follow(p, "slow"))

    @jax.jit
    def update(p: Any, opt_state: Any, g: Any) -> tuple[Any, Any]:
        updates, opt_state = transformation.update(g, opt_state, p)
        return optax.apply_updates(p, updates), opt_state

    def init(x0: FloatArray) -> tuple[Any, Any]:
        with jax.enable_x64(True):
            p = make(jnp.asarray(x0, dtype=jnp.float64))
            return p, transformation.init(p)

    def step(state: tuple[Any, Any], g: FloatArray) -> Any:  # (params, optimizer state), from jitted update
        with jax.enable_x64(True):
            return update(*state, jnp.asarray(g, dtype=jnp.float64))

    return Adapter(init, step, lambda state: np.asarray(fast(state[0])),
                   lambda state: np.asarray(slow(state[0])))


def torch_adapter(factory: Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer],
                  slow: Callable[[torch.optim.Optimizer, torch.nn.Parameter], torch.Tensor | None] | None = None
                  ) -> Adapter:
    """A ``torch.optim.Optimizer`` factory as an ``Adapter`` (one float64 parameter tensor).

    Parameters
    ----------
    factory : callable
        [parameter] -> optimizer.
    slow : callable, optional
        (optimizer, parameter) -> the outermost slow weights, or None while there are none
        (default: the parameter itself).
    """
    import torch

    def init(x0: FloatArray) -> tuple[torch.nn.Parameter, torch.optim.Optimizer]:
        param = torch.nn.Parameter(torch.tensor(x0, dtype=torch.float64))
        return param, factory([param])

    def step(state: tuple[torch.nn.Parameter, torch.optim.Optimizer], g: FloatArray
             ) -> tuple[torch.nn.Parameter, torch.optim.Optimizer]:
        param, optimizer = state
        param.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
        return state

    def read_slow(state: tuple[torch.nn.Parameter, torch.optim.Optimizer]) -> FloatArray | None:
        value = state[0] if slow is None else slow(state[1], state[0])
        return None if value is None else value.detach().numpy().copy()

    return Adapter(init, step, lambda state: state[0].detach().numpy().copy(), read_slow)


@dataclass(frozen=True)
class Implementation:
    """A built-in case: ``construction(layers, lr)`` is the code that builds it, ``adapter(code)``
    runs that code; ``modules`` must import."""

    name: str
    library: str
    modules: tuple[str, ...]
    construction: Callable[[Layers, float], str]
    adapter: Callable[[str], Adapter]


def missing_modules(modules: Iterable[str]) -> str | None:
    """None if every module imports, else 'module: why' for the first that does not."""
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as error:  # ImportError, or a broken install (timm's torchvision here)
            return f"{module}: {type(error).__name__}: {error}"
    return None


def _optax_code(layers: Layers, lr: float, cumulative: bool) -> str:
    optimizer, params, period = f"optax.sgd({lr!r})", "x0", 1
    for k, alpha in layers:
        period = period * k if cumulative else k
        optimizer = f"optax.lookahead({optimizer}, sync_period={period}, slow_step_size={alpha!r})"
        params = f"optax.LookaheadParams.init_synced({params})"
    return f"optimizer = {optimizer}\nparams = {params}"


def _torch_code(wrapper: str, arguments: str, layers: Layers, lr: float, cumulative: bool) -> str:
    optimizer, period = f"torch.optim.SGD(params, lr={lr!r})", 1
    for k, alpha in layers:
        period = period * k if cumulative else k
        optimizer = f"{wrapper}({optimizer}, {arguments.format(k=period, alpha=alpha)})"
    return f"optimizer = {optimizer}"


def _run_optax(code: str, slow: Callable[[Any], Any] | None = None) -> Adapter:
    import optax

    from ..contrib import optax as contrib
    namespace: dict[str, Any] = {"optax": optax, "multilayer_lookahead": contrib.multilayer_lookahead,
                 "MultilayerLookaheadParams": contrib.MultilayerLookaheadParams}
    optimizer_line, params_line = code.split("\n")
    exec(optimizer_line, namespace)

    def params(x0: Any) -> Any:
        local = dict(namespace, x0=x0)
        exec(params_line, local)
        return local["params"]

    return optax_adapter(namespace["optimizer"], params, slow=slow)


def _run_torch(module: str | None, slow: Callable[[Any, Any], Any]) -> Callable[[str], Adapter]:
    """Runs torch construction code with ``torch``, ``params`` and ``module``'s top-level package
    (or, for None, ``MultilayerLookahead``) in scope."""
    def run(code: str) -> Adapter:
        import torch

        names: dict[str, Any]
        if module is None:
            from ..contrib.torch import MultilayerLookahead
            names = {"MultilayerLookahead": MultilayerLookahead}
        else:
            importlib.import_module(module)
            top = module.split(".")[0]
            names = {top: importlib.import_module(top)}

        def factory(params: list[Any]) -> Any:
            namespace = dict(names, torch=torch, params=params)
            exec(code, namespace)
            return namespace["optimizer"]

        return torch_adapter(factory, slow)
    return run


def _state(optimizer: Any, param: Any, key: str) -> Any:
    return optimizer.state.get(param, {}).get(key)


def _torch_cases(library: str, module: str, wrapper: str, arguments: str, slow: Callable[[Any, Any], Any]
                 ) -> list[Implementation]:
    return [Implementation(
        wrapper + (", outer periods k_1...k_i" if cumulative else ""), library, ("torch", module),
        functools.partial(_torch_code, wrapper, arguments, cumulative=cumulative),
        _run_torch(module, slow))
        for cumulative in (False, True)]


IMPLEMENTATIONS: list[Implementation] = [
    Implementation("optax.lookahead", "optax", ("jax", "optax"),
                   lambda layers, lr: _optax_code(layers, lr, False), _run_optax),
    Implementation("optax.lookahead, outer periods k_1...k_i", "optax", ("jax", "optax"),
                   lambda layers, lr: _optax_code(layers, lr, True), _run_optax),
    *_torch_cases("torch-optimizer", "torch_optimizer", "torch_optimizer.Lookahead", "k={k}, alpha={alpha!r}",
                  lambda optimizer, p: _state(optimizer, p, "slow_param")),
    *_torch_cases("pytorch-optimizer", "pytorch_optimizer", "pytorch_optimizer.Lookahead",
                  "k={k}, alpha={alpha!r}", lambda optimizer, p: _state(optimizer, p, "slow_params")),
    *_torch_cases("timm", "timm.optim", "timm.optim.Lookahead", "alpha={alpha!r}, k={k}",
                  lambda optimizer, p: _state(optimizer._base_optimizer, p, "lookahead_slow_buff")),
    Implementation("mla_numeric.contrib.optax.multilayer_lookahead", "mla_numeric.contrib", ("jax", "optax"),
                   lambda layers, lr: (f"optimizer = multilayer_lookahead(optax.sgd({lr!r}), {list(layers)!r})\n"
                                       f"params = MultilayerLookaheadParams.init_synced(x0, {len(layers)})"),
                   lambda code: _run_optax(code, slow=lambda p: p.slow[-1])),
    Implementation("mla_numeric.contrib.torch.MultilayerLookahead", "mla_numeric.contrib", ("torch",),
                   lambda layers, lr: (f"optimizer = MultilayerLookahead(params, lambda p: "
                                       f"torch.optim.SGD(p, lr={lr!r}), {list(layers)!r})"),
                   _run_torch(None, lambda optimizer, p: optimizer.slow_weights()[0])),
]
