"""function_set.py: an objective's compiled functions keyed by their code, for numba's disk cache."""
from mla_numeric import objectives
from mla_numeric.function_set import function_set


def test_the_same_family_shares_one_function_set():
    first, second = objectives.make("wells", 5, 0), objectives.make("wells", 7, 3)
    assert function_set(first) is function_set(second)


def test_different_families_get_different_tokens():
    tokens = {function_set(objectives.make(name)).token for name in ("quadratic", "wells", "robust-regression")}
    assert len(tokens) == 3


def test_the_token_is_a_stable_hash():
    token = function_set(objectives.make("quadratic")).token
    assert len(token) == 24 and int(token, 16) >= 0
    assert function_set(objectives.make("quadratic")).token == token
