"""Nested (multilayer) Lookahead as an optax ``GradientTransformation``.

Algorithm (THEORY.md; Zhang et al. 2019 for n = 1, Pushkin & Barba 2021 for n >= 2). Layers
i = 1..n, innermost first, each a period k_i and a step alpha_i in (0, 1]; write B_i = k_1 ... k_i.
After the inner optimizer's update of oracle call c = 1, 2, ... (counted from the last top-level
synchronisation), every level i whose period divides c, i.e. B_i | c, synchronises, innermost first:

    phi_i <- phi_i + alpha_i (phi_{i-1} - phi_i)        (phi_0: the fast weights)

and then the highest synchronised level restarts every level below it and the fast weights from
its new phi. optax's own ``lookahead`` nested as ``lookahead(lookahead(inner, k1, a1), k1 * k2,
a2)`` with ``LookaheadParams.init_synced(LookaheadParams.init_synced(params))`` computes the same
(its ``sync_period`` counts oracle calls, hence k1 * k2), but keeps 2^n copies of the parameters;
this one keeps n + 1.

Usage::

    optimizer = multilayer_lookahead(optax.sgd(0.1), [(5, 0.5), (5, 0.5)])
    params = MultilayerLookaheadParams.init_synced(params, depth=2)
    state = optimizer.init(params)
    grads = jax.grad(loss)(params.fast)           # gradients at the fast weights
    updates, state = optimizer.update(grads, state, params)
    params = optax.apply_updates(params, updates)
    loss(params.slow[-1])                         # evaluate the outermost slow weights

As with optax's ``lookahead``, apply the updates unchanged: they move the slow weights too.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["MultilayerLookaheadParams", "MultilayerLookaheadState", "multilayer_lookahead"]


class MultilayerLookaheadParams(NamedTuple):
    """The fast weights (compute gradients here) and the slow weights of levels 1..n."""

    fast: optax.Params
    slow: tuple[optax.Params, ...]

    @classmethod
    def init_synced(cls, params: optax.Params, depth: int) -> MultilayerLookaheadParams:
        """Every level starts at ``params``."""
        return cls(fast=params, slow=(params,) * depth)


class MultilayerLookaheadState(NamedTuple):
    """The inner optimizer's state and the oracle calls since the last top-level sync (0..K-1)."""

    inner_state: optax.OptState
    calls: jax.Array


def _check_layers(layers: Iterable[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    checked = tuple((int(k), float(alpha)) for k, alpha in layers)
    if not checked or any(k < 1 or not 0 < alpha <= 1 for k, alpha in checked):
        raise ValueError(f"layers must be a non-empty list of (k >= 1, alpha in (0, 1]), got {layers!r}")
    return checked


def _toward(phi: optax.Params, x: optax.Params, alpha: float) -> optax.Params:
    """phi + alpha (x - phi), leafwise."""
    return jax.tree.map(lambda p, y: p + alpha * (y - p), phi, x)


def _select(condition: jax.Array, new: Any, old: Any) -> Any:
    """new where ``condition`` (a scalar boolean array) holds, else old, leafwise."""
    return jax.tree.map(lambda n, o: jnp.where(condition, n, o), new, old)


def multilayer_lookahead(inner: optax.GradientTransformation, layers: Iterable[tuple[int, float]]
                         ) -> optax.GradientTransformation:
    """n-layer Lookahead around ``inner``, with ``layers = [(k_1, alpha_1), ..., (k_n, alpha_n)]``.

    Parameters
    ----------
    inner : optax.GradientTransformation
        The fast optimizer (``optax.sgd(eta)`` gives the algorithm of the papers).
    layers : sequence of (int, float)
        Innermost layer first; one layer is Lookahead.

    Returns
    -------
    optax.GradientTransformation
        ``init`` takes and ``update`` expects ``MultilayerLookaheadParams`` (module docstring).
    """
    layers = _check_layers(layers)
    periods = [math.prod(k for k, _ in layers[:i + 1]) for i in range(len(layers))]

    def init_fn(params: MultilayerLookaheadParams) -> MultilayerLookaheadState:
        return MultilayerLookaheadState(inner.init(params.fast), jnp.zeros((), jnp.int32))

    def update_fn(updates: optax.Updates, state: MultilayerLookaheadState,
                  params: MultilayerLookaheadParams) -> tuple[MultilayerLookaheadParams, MultilayerLookaheadState]:
        updates, inner_state = inner.update(updates, state.inner_state, params.fast)
        calls = state.calls + 1
        syncs = [calls % period == 0 for period in periods]  # B_i | c; nested: sync_i implies sync_{i-1}
        moved = optax.apply_updates(params.fast, updates)
        slow, lower = [], moved
        for (_, alpha), sync, phi in zip(layers, syncs, params.slow, strict=True):  # interpolate, innermost first
            lower = _select(sync, _toward(phi, lower, alpha), phi)
            slow.append(lower)
        for i in reversed(range(len(layers) - 1)):  # restart the levels below the highest synced one
            slow[i] = _select(syncs[i + 1], slow[i + 1], slow[i])
        # Updates are new - old, except the fast weights between syncs: the inner update itself.
        fast_step = _select(syncs[0], jax.tree.map(lambda s, x: s - x, slow[0], params.fast), updates)
        slow_step = tuple(jax.tree.map(lambda n, o: n - o, new, old)
                          for new, old in zip(slow, params.slow, strict=True))
        return (MultilayerLookaheadParams(fast_step, slow_step),
                MultilayerLookaheadState(inner_state, calls % periods[-1]))

    return optax.GradientTransformation(init_fn, update_fn)
