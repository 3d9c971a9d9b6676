"""The optimizer spec: derived quantities and input validation (property-based where it fits)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mla_numeric as mn
from mla_numeric.spec import format_layers, parse_layers

valid_alpha = st.floats(min_value=1e-6, max_value=1.0)
valid_k = st.integers(min_value=1, max_value=6)
layers = st.lists(st.tuples(valid_k, valid_alpha), max_size=3)


@given(layers)
def test_K_and_P_are_the_products(layers):
    optimizer = mn.MLA(layers, lr=0.1)
    assert math.prod(k for k, _ in layers) == optimizer.K
    assert pytest.approx(math.prod(a for _, a in layers)) == optimizer.P
    assert optimizer.depth == len(layers)


@given(layers)
@settings(max_examples=30)
def test_pair_weights_are_between_P_and_one(layers):
    optimizer = mn.MLA(layers, lr=0.1)
    d = optimizer.pair_weights()
    upper = np.triu(np.ones_like(d, dtype=bool), 1)
    assert np.all(d[~upper] == 0)
    assert np.all((d[upper] <= 1) & (d[upper] >= optimizer.P * (1 - 1e-12)))


@given(st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0, exclude_min=True),
                 st.just(float("nan")), st.just(float("inf"))), st.integers(1, 3))
def test_alpha_outside_unit_interval_is_rejected(alpha, position):
    layers = [(2, 0.5)] * 3
    layers[position - 1] = (2, alpha)
    with pytest.raises(ValueError, match=rf"alpha_{position} must be in \(0, 1\]"):
        mn.MLA(layers, lr=0.1)


@given(st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.just("3"), st.just(True)))
def test_k_must_be_a_positive_integer(k):
    with pytest.raises(ValueError, match=r"k_1 must be an integer >= 1"):
        mn.MLA([(k, 0.5)], lr=0.1)


@given(st.one_of(st.floats(max_value=0.0), st.just(float("nan")), st.just(float("inf")), st.just("0.1")))
def test_lr_must_be_positive_and_finite(lr):
    with pytest.raises(ValueError, match=r"lr \(eta\) must be a finite number > 0"):
        mn.MLA([], lr=lr)


@given(layers)
def test_layers_spelling_round_trips(layers):
    text = format_layers([(k, float(repr(a))) for k, a in layers])
    assert parse_layers(text) == [(k, float(f"{a:g}")) for k, a in layers]


@pytest.mark.parametrize("text", ["5", "5:0.5:1", "a:0.5", "5:x", "5:0.5,", ""])
def test_malformed_layers_are_rejected(text):
    with pytest.raises(ValueError, match="--layers"):
        parse_layers(text)


def test_sgd_spelling():
    assert parse_layers("sgd") == [] and parse_layers("SGD") == [] and format_layers([]) == "sgd"


def test_layer_must_be_a_pair():
    with pytest.raises(ValueError, match="layer 1 must be a pair"):
        mn.MLA([5], lr=0.1)


# ---- simulate's own arguments --------------------------------------------------------

@pytest.fixture(scope="module")
def quadratic():
    return mn.objectives.diagonal_quadratic(3, seed=0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(T=0), r"T must be an integer >= 1"),
    (dict(T=2.5), r"T must be an integer >= 1"),
    (dict(replicates=0), r"replicates must be an integer >= 1"),
    (dict(replicates=[-1, 2]), r"distinct replicate indices in \[0, 2\*\*63\)"),
    (dict(replicates=[3, 1, 3]), r"distinct replicate indices"),
    (dict(replicates=[2 ** 63]), r"distinct replicate indices in \[0, 2\*\*63\)"),
    (dict(replicates=[1.0]), r"distinct replicate indices"),
    (dict(seed=-1), r"seed must be an integer in \[0, 2\*\*63\)"),
    (dict(x0=[0.0, np.nan, 1.0]), r"x0 must be finite"),
    (dict(x0=[0.0, 1.0]), r"x0 must have shape \(3,\)"),
    (dict(oracle="gaussian"), r"unknown oracle"),
    (dict(oracle=mn.WithReplacement()), r"needs a finite-sum objective"),
    (dict(keep="all"), r"keep must be 'records' or 'summary'"),
])
def test_simulate_rejects_bad_input(quadratic, kwargs, message):
    kwargs = {"T": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        mn.simulate(quadratic, mn.MLA([], 0.1), **kwargs)


@given(st.one_of(st.floats(max_value=-1e-300), st.just(float("nan")), st.just(float("inf"))))
def test_negative_or_non_finite_sigma_is_rejected(sigma):
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        mn.GaussianNoise(sigma)


def test_unknown_objective_is_rejected():
    with pytest.raises(ValueError, match="unknown objective 'rosenbrock'; choose from"):
        mn.objectives.make("rosenbrock")
