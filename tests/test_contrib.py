"""The correct nested Lookahead of mla_numeric.contrib, for optax and torch, proven conforming by
the harness at depths 1..3 with exact and noisy gradients."""
import copy

import numpy as np
import pytest

from mla_numeric import conformance as cf
from mla_numeric.objectives import make

LAYERS = ((3, 0.6), (2, 0.7), (2, 0.8))
# G = 1 at every call, eta = 1, layers (2, 1/2), (2, 1/2), x_0 = 0 (tests/test_conformance.py):
# fast points of calls 0..7 are 0, -1, -1, -2, -1, -2, -2, -3; the outermost slow weights are -1
# after the first cycle of 4 calls and -2 after the second.
TRACE_FAST = [0, -1, -1, -2, -1, -2, -2, -3]
TRACE_SLOW = {4: -1, 8: -2}


def setting(sigma):
    objective = make("wells", 4)
    return cf.Setting(objective, objective.start(), 0.05, 6, sigma, seed=5, replicate=1)


def trace(adapter):
    state = adapter.init(np.zeros(1))
    fast, slow = [], {}
    for call in range(8):
        fast.append(float(adapter.fast(state)[0]))
        state = adapter.step(state, np.ones(1))
        if call + 1 in TRACE_SLOW:
            slow[call + 1] = float(adapter.slow(state)[0])
    return fast, slow


class TestOptax:
    @pytest.fixture(autouse=True)
    def modules(self):
        pytest.importorskip("jax")
        self.optax = pytest.importorskip("optax")
        from mla_numeric.contrib import optax as contrib
        self.contrib = contrib

    def adapter(self, layers, lr):
        return cf.optax_adapter(self.contrib.multilayer_lookahead(self.optax.sgd(lr), layers),
                                params=lambda x: self.contrib.MultilayerLookaheadParams.init_synced(x, len(layers)),
                                slow=lambda params: params.slow[-1])

    @pytest.mark.parametrize("depth", [1, 2, 3])
    @pytest.mark.parametrize("sigma", [0.0, 1.0])
    def test_conforms(self, depth, sigma):
        result = cf.compare(self.adapter(LAYERS[:depth], 0.05), LAYERS[:depth], setting(sigma))
        assert result.verdict == "conforms", result.diagnosis

    def test_two_layer_trace_by_hand(self):
        assert trace(self.adapter([(2, 0.5), (2, 0.5)], 1.0)) == (TRACE_FAST, TRACE_SLOW)

    def test_one_layer_equals_optax_lookahead(self):
        import jax.numpy as jnp
        ours, theirs = self.contrib.multilayer_lookahead(self.optax.sgd(0.5), [(3, 0.25)]), \
            self.optax.lookahead(self.optax.sgd(0.5), 3, 0.25)
        p = self.contrib.MultilayerLookaheadParams.init_synced(jnp.ones(2), 1)
        q = self.optax.LookaheadParams.init_synced(jnp.ones(2))
        s, t = ours.init(p), theirs.init(q)
        for step in range(7):
            g = jnp.array([1.0, -2.0]) * (step + 1)
            u, s = ours.update(g, s, p)
            v, t = theirs.update(g, t, q)
            p, q = self.optax.apply_updates(p, u), self.optax.apply_updates(q, v)
            np.testing.assert_allclose(p.fast, q.fast, rtol=1e-6)
            np.testing.assert_allclose(p.slow[0], q.slow, rtol=1e-6)

    @pytest.mark.parametrize("layers", [[], [(0, 0.5)], [(2, 0.0)], [(2, 1.5)]])
    def test_rejects_bad_layers(self, layers):
        with pytest.raises(ValueError, match="layers"):
            self.contrib.multilayer_lookahead(self.optax.sgd(0.1), layers)


class TestTorch:
    @pytest.fixture(autouse=True)
    def modules(self):
        self.torch = pytest.importorskip("torch")
        from mla_numeric.contrib.torch import MultilayerLookahead
        self.MLA = MultilayerLookahead

    def build(self, params, layers, lr):
        return self.MLA(params, lambda p: self.torch.optim.SGD(p, lr=lr), layers)

    def adapter(self, layers, lr, round_trip=False):
        """With ``round_trip``, every step runs on a fresh optimizer and parameter restored from
        the previous one's state_dict."""
        torch = self.torch

        def step(state, g):
            param, optimizer = state
            if round_trip:
                saved = copy.deepcopy(optimizer.state_dict())
                param = torch.nn.Parameter(param.detach().clone())
                optimizer = self.build([param], layers, 1e9)  # lr and slow weights come from saved
                optimizer.load_state_dict(saved)
            param.grad = torch.tensor(g, dtype=torch.float64)
            optimizer.step()
            return param, optimizer

        base = cf.torch_adapter(lambda params: self.build(params, layers, lr),
                                slow=lambda optimizer, p: optimizer.slow_weights()[0])
        return cf.Adapter(base.init, step, base.fast, base.slow)

    @pytest.mark.parametrize("depth", [1, 2, 3])
    @pytest.mark.parametrize("sigma", [0.0, 1.0])
    def test_conforms(self, depth, sigma):
        result = cf.compare(self.adapter(LAYERS[:depth], 0.05), LAYERS[:depth], setting(sigma))
        assert result.verdict == "conforms", result.diagnosis

    @pytest.mark.parametrize("depth", [1, 2, 3])
    def test_conforms_through_a_state_dict_round_trip_at_every_call(self, depth):
        result = cf.compare(self.adapter(LAYERS[:depth], 0.05, round_trip=True), LAYERS[:depth], setting(1.0))
        assert result.verdict == "conforms", result.diagnosis

    def test_two_layer_trace_by_hand(self):
        assert trace(self.adapter([(2, 0.5), (2, 0.5)], 1.0)) == (TRACE_FAST, TRACE_SLOW)

    def test_several_parameters_closure_and_separate_groups(self):
        torch = self.torch
        a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(1))
        optimizer = self.build([a, b], [(2, 0.5), (2, 0.5)], 1.0)

        def closure():
            optimizer.zero_grad()
            loss = a.sum() + b.sum()  # gradient 1 at every coordinate, as in the trace
            loss.backward()
            return loss

        for _ in range(4):
            assert optimizer.step(closure) is not None
        assert a.tolist() == [-1.0, -1.0] and b.tolist() == [-1.0]
        assert [w.tolist() for w in optimizer.slow_weights()] == [[-1.0, -1.0], [-1.0]]
        assert "calls" not in optimizer.inner.param_groups[0]  # no keys shared with the inner optimizer

    @pytest.mark.parametrize("layers", [[], [(0, 0.5)], [(2, 0.0)], [(2, 1.5)]])
    def test_rejects_bad_layers(self, layers):
        with pytest.raises(ValueError, match="layers"):
            self.build([self.torch.nn.Parameter(self.torch.zeros(1))], layers, 0.1)
