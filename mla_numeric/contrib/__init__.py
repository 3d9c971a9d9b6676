"""Correct nested (multilayer) Lookahead for the optax and PyTorch ecosystems.

- ``mla_numeric.contrib.optax.multilayer_lookahead(inner, layers)``: an optax GradientTransformation.
- ``mla_numeric.contrib.torch.MultilayerLookahead(params, inner_optimizer, layers)``: a
  ``torch.optim.Optimizer``.

Both compute the algorithm of THEORY.md (Zhang et al. 2019 at one layer; Pushkin & Barba 2021,
arXiv:2110.14254, at two and more) and are checked against the engine by the conformance harness
(``mla_numeric.conformance``, claim C8). Import the submodule you need: this package imports
neither jax nor torch (install them with the ``conformance`` extra).
"""
