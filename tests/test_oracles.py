"""oracles.py: the oracles' parameters, noise scales, JSON forms and bad input."""
import numpy as np
import pytest

from mla_numeric.oracles import GaussianNoise, PrescribedOrders, RandomReshuffling, WithReplacement, make_oracle


def test_gaussian_total_noise_is_sigma_squared():
    scale = GaussianNoise(2.0).noise_scale(8)
    assert np.allclose(scale, 2.0 / np.sqrt(8)) and np.sum(scale ** 2) == pytest.approx(4.0)


def test_gaussian_per_coordinate_scale_and_json():
    oracle = GaussianNoise(scale=np.array([3.0, 4.0]))
    assert oracle.to_dict(2) == {"name": "gaussian", "sigma": 5.0, "scale": [3.0, 4.0]}
    assert GaussianNoise(1.5).to_dict(3) == {"name": "gaussian", "sigma": 1.5, "scale": None}


def test_component_oracles_add_no_noise():
    for oracle in (WithReplacement(), RandomReshuffling()):
        assert not oracle.noise_scale(4).any() and oracle.to_dict(4) == {"name": oracle.name}


def test_prescribed_orders_are_checked():
    oracle = PrescribedOrders(np.array([[1, 0, 2], [2, 1, 0]]))
    assert oracle.check(np.array([1]), 3).tolist() == [[2, 1, 0]]
    with pytest.raises(ValueError, match="permutation"):
        PrescribedOrders(np.array([[0, 0, 2]])).check(np.array([0]), 3)
    with pytest.raises(ValueError, match="shape"):
        oracle.check(np.array([0]), 4)
    with pytest.raises(ValueError, match="replicate 5"):
        oracle.check(np.array([5]), 3)


@pytest.mark.parametrize("make, message", [
    (lambda: GaussianNoise(-1.0), "sigma"),
    (lambda: GaussianNoise(1.0, scale=np.ones(2)), "either sigma"),
    (lambda: GaussianNoise(scale=np.array([1.0, -1.0])).noise_scale(2), "must be >= 0"),
    (lambda: make_oracle("dropout"), "unknown oracle 'dropout'"),
])
def test_bad_input_names_the_parameter(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_make_oracle_by_name():
    assert make_oracle("gaussian", 2.0).sigma == 2.0
    assert isinstance(make_oracle("reshuffle"), RandomReshuffling)
