"""Nested (multilayer) Lookahead as a ``torch.optim.Optimizer``.

Algorithm (THEORY.md; Zhang et al. 2019 for n = 1, Pushkin & Barba 2021 for n >= 2). Layers
i = 1..n, innermost first, each a period k_i and a step alpha_i in (0, 1]; B_i = k_1 ... k_i.
After the inner optimizer's step of oracle call c = 1, 2, ... (counted from the last top-level
synchronisation), every level i with B_i | c synchronises, innermost first,

    phi_i <- phi_i + alpha_i (phi_{i-1} - phi_i)        (phi_0: the parameters, i.e. fast weights)

and the highest synchronised level then restarts the levels below it and the parameters from its
new phi. Nesting a one-layer torch Lookahead wrapper does not compute this (docs/conformance.md):
such wrappers count periods in calls, keep one slow copy that an outer sync does not update, and
share their step counter through the parameter groups. This class keeps its own parameter groups,
one slow copy per level and a single call counter.

Usage::

    optimizer = MultilayerLookahead(model.parameters(), lambda p: torch.optim.SGD(p, lr=0.1),
                                    [(5, 0.5), (5, 0.5)])
    loss(model(x), y).backward(); optimizer.step(); optimizer.zero_grad()
    optimizer.slow_weights()      # the outermost slow weights, one tensor per parameter

``state_dict()`` holds the slow weights, the call counter and the inner optimizer's state;
``load_state_dict`` restores all three.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

__all__ = ["MultilayerLookahead"]


class MultilayerLookahead(torch.optim.Optimizer):
    """n-layer Lookahead around an inner optimizer.

    Parameters
    ----------
    params : iterable of tensors or of parameter-group dicts
    inner_optimizer : callable
        ``inner_optimizer(params) -> torch.optim.Optimizer`` builds the fast optimizer on the same
        parameters (``torch.optim.SGD`` with learning rate eta gives the algorithm of the papers).
    layers : sequence of (int, float)
        ``[(k_1, alpha_1), ..., (k_n, alpha_n)]``, innermost first; one layer is Lookahead.
    """

    def __init__(self, params: Iterable[Any], inner_optimizer: Callable[[list[Any]], torch.optim.Optimizer],
                 layers: Iterable[tuple[int, float]]) -> None:
        layers = [(int(k), float(alpha)) for k, alpha in layers]
        if not layers or any(k < 1 or not 0 < alpha <= 1 for k, alpha in layers):
            raise ValueError(f"layers must be a non-empty list of (k >= 1, alpha in (0, 1]), got {layers!r}")
        params = list(params)
        self.inner = inner_optimizer(params)
        # Our own group dicts over the same tensors: nothing of ours lands in the inner groups.
        super().__init__([{"params": group["params"]} for group in self.inner.param_groups],
                         {"layers": layers, "calls": 0})
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["slow"] = [p.detach().clone() for _ in layers]

    def slow_weights(self, level: int = -1) -> list[torch.Tensor]:
        """The slow weights of ``level`` (0-based, innermost first; -1: outermost), per parameter."""
        return [self.state[p]["slow"][level] for group in self.param_groups for p in group["params"]]

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One inner step, then the synchronisations due (module docstring)."""
        loss = self.inner.step(closure)  # torch optimizers evaluate the closure with grad enabled
        for group in self.param_groups:
            layers = group["layers"]
            calls = group["calls"] + 1
            top = 0  # the number of levels that synchronise: B_1 .. B_top divide calls
            while top < len(layers) and calls % math.prod(k for k, _ in layers[:top + 1]) == 0:
                top += 1
            group["calls"] = calls % math.prod(k for k, _ in layers)
            if top == 0:
                continue
            for p in group["params"]:
                slow = self.state[p]["slow"]
                lower = p
                for i in range(top):
                    slow[i].add_(lower - slow[i], alpha=layers[i][1])
                    lower = slow[i]
                for i in range(top - 1):
                    slow[i].copy_(slow[top - 1])
                p.copy_(slow[top - 1])
        return loss

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = super().state_dict()
        state["inner"] = self.inner.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        self.inner.load_state_dict(state_dict.pop("inner"))
        super().load_state_dict(state_dict)
