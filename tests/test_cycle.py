"""cycle.nested_cycle: the recursive definition of one top-level iteration, on numbers."""
import numpy as np
import pytest

from mla_numeric.cycle import nested_cycle


def gradient_step(eta, h=2.0):
    """One step of gradient descent on f = h x^2 / 2 (the step index is unused)."""
    return lambda x, j: x - eta * h * x


def test_no_layers_is_one_step():
    assert nested_cycle(1.0, gradient_step(0.1), []) == pytest.approx(0.8)


def test_alpha_one_is_K_plain_steps():
    layers = [(3, 1.0), (2, 1.0)]
    assert nested_cycle(1.0, gradient_step(0.1), layers) == pytest.approx(0.8 ** 6)


def test_k_one_is_one_step_at_rate_eta_P_for_a_linear_step():
    layers = [(1, 0.5), (1, 0.4)]
    assert nested_cycle(1.0, gradient_step(0.1), layers) == pytest.approx(1 - 0.1 * 0.2 * 2.0)


def test_a_two_layer_trace_by_hand():
    # layers (2, 0.5), (2, 0.5) on x -> x - 1 per step: inner cycle phi -> phi - 1, outer phi -> phi - 1
    assert nested_cycle(10.0, lambda x, j: x - 1.0, [(2, 0.5), (2, 0.5)]) == pytest.approx(9.0)


def test_steps_are_indexed_in_order_and_vectors_work():
    seen = []

    def step(x, j):
        seen.append(j)
        return x + np.array([1.0, 2.0])

    out = nested_cycle(np.zeros(2), step, [(2, 1.0), (3, 1.0)])
    assert seen == list(range(6)) and np.allclose(out, [6.0, 12.0])
