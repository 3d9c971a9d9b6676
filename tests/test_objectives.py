"""Every built-in objective: derivatives, finite-sum structure, f_low, L, validation, seeding."""
import zlib
from dataclasses import replace

import numpy as np
import pytest
from numba import njit

from mla_numeric.objectives import BUILTIN, Objective, make
from mla_numeric.objectives.finite_sum import _valley_component_grad, _valley_component_value, valley, valley_product
from mla_numeric.objectives.nonconvex import logistic_nonconvex, robust_regression, separable_wells

NAMES = list(BUILTIN)
SMOOTH = [name for name in NAMES if make(name, 2 if name == "valley" else 5).L is not None]
FINITE_SUMS = [name for name in NAMES if make(name, 2 if name == "valley" else 5).is_finite_sum]
SEED_FREE = {"nqm"}  # its default spectrum is deterministic; the seed is only echoed


def build(name, seed=0):
    return make(name, 2 if name == "valley" else 5, seed)


def random_points(dim, count, seed, scale=2.0):
    return scale * np.random.default_rng(seed).standard_normal((count, dim))


def known_minimiser(objective):
    """A global minimiser with value f_low, where the family has one."""
    if objective.name in ("quadratic", "dense-quadratic", "nqm"):
        return objective.data[1]
    if objective.name == "wells":
        return objective.data[0]
    return None


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_central_differences(name):
    objective = build(name)
    step = 1e-6
    for x in random_points(objective.dim, 5, seed=1):
        numeric = np.empty(objective.dim)
        for i in range(objective.dim):
            e = np.zeros(objective.dim)
            e[i] = step
            numeric[i] = (objective.f(x + e) - objective.f(x - e)) / (2 * step)
        np.testing.assert_allclose(objective.gradient(x), numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_hvp_matches_differences_of_gradient(name):
    objective = build(name)
    step = 1e-6
    rng = np.random.default_rng(2)
    for x in random_points(objective.dim, 5, seed=3):
        v = rng.standard_normal(objective.dim)
        numeric = (objective.gradient(x + step * v) - objective.gradient(x - step * v)) / (2 * step)
        np.testing.assert_allclose(objective.hessian_vector(x, v), numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_finite_sum_components_average_to_f(name):
    objective = build(name)
    if not objective.is_finite_sum:
        assert objective.m == 0
        return
    assert objective.m == objective.params["m"] == objective.data[0].shape[0]
    for x in random_points(objective.dim, 4, seed=4):
        values = [objective.component(x, a) for a in range(objective.m)]
        grads = [objective.component_gradient(x, a) for a in range(objective.m)]
        assert np.mean(values) == pytest.approx(objective.f(x), rel=1e-12, abs=1e-14)
        np.testing.assert_allclose(np.mean(grads, axis=0), objective.gradient(x), rtol=1e-10, atol=1e-13)
    for a in (-1, objective.m):
        with pytest.raises(ValueError, match="component index a"):
            objective.component(np.zeros(objective.dim), a)


@pytest.mark.parametrize("name", FINITE_SUMS)
def test_component_hvp_matches_differences_and_averages_to_hvp(name):
    objective = build(name)
    step = 1e-6
    rng = np.random.default_rng(8)
    for x in random_points(objective.dim, 4, seed=9):
        v = rng.standard_normal(objective.dim)
        products = []
        for a in range(objective.m):
            product = objective.component_hessian_vector(x, a, v)
            numeric = (objective.component_gradient(x + step * v, a)
                       - objective.component_gradient(x - step * v, a)) / (2 * step)
            np.testing.assert_allclose(product, numeric, rtol=1e-5, atol=1e-6)
            products.append(product)
        np.testing.assert_allclose(np.mean(products, axis=0), objective.hessian_vector(x, v),
                                   rtol=1e-10, atol=1e-13)
    with pytest.raises(ValueError, match="component index a"):
        objective.component_hessian_vector(np.zeros(objective.dim), objective.m, np.zeros(objective.dim))


def test_finite_sum_needs_component_hvp():
    parts = build("valley")
    fields = {name: getattr(parts, name) for name in
              ("name", "dim", "data", "value", "grad", "hvp", "L", "f_low", "L_reason", "m",
               "component_value", "component_grad")}
    with pytest.raises(ValueError, match="component_hvp"):
        Objective(**fields)


@pytest.mark.parametrize("name", NAMES)
def test_f_low_is_a_lower_bound(name):
    objective = build(name)
    for scale in (0.1, 1.0, 10.0):
        for x in random_points(objective.dim, 100, seed=5, scale=scale):
            assert objective.f_low <= objective.f(x)
    assert objective.f_low <= objective.f(objective.start())
    minimiser = known_minimiser(objective)
    if minimiser is not None:
        assert objective.f(minimiser) == pytest.approx(objective.f_low, abs=1e-14)
        np.testing.assert_allclose(objective.gradient(minimiser), 0.0, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_L_is_given_or_explained(name):
    objective = build(name)
    if objective.L is None:
        assert objective.L_reason.strip()
    else:
        assert np.isfinite(objective.L) and objective.L > 0


@pytest.mark.parametrize("name", SMOOTH)
def test_L_bounds_gradient_differences_and_hvp(name):
    objective = build(name)
    rng = np.random.default_rng(6)
    for scale in (0.1, 1.0, 5.0):
        xs = random_points(objective.dim, 100, seed=7, scale=scale)
        for x in xs:
            y = x + scale * rng.standard_normal(objective.dim) * rng.choice([1e-3, 1.0])
            change = np.linalg.norm(objective.gradient(x) - objective.gradient(y))
            assert change <= objective.L * np.linalg.norm(x - y) * (1 + 1e-9)
            v = rng.standard_normal(objective.dim)
            assert np.linalg.norm(objective.hessian_vector(x, v)) <= objective.L * np.linalg.norm(v) * (1 + 1e-9)


def test_wells_curvature_reaches_both_ends():
    objective = separable_wells(3, seed=0, beta=1.0, omega=4.0)
    centers = objective.data[0]
    v = np.array([1.0, 0.0, 0.0])
    assert objective.hessian_vector(centers, v)[0] == pytest.approx(objective.L)
    trough = centers + np.array([np.pi / 4.0, 0.0, 0.0])
    assert objective.hessian_vector(trough, v)[0] == pytest.approx(2.0 - objective.L)


def test_valley_minima_and_start():
    objective = valley(seed=3, m=16, noise=0.5)
    inputs, targets = objective.data
    product = valley_product(objective)
    assert product == pytest.approx(inputs @ targets / (inputs @ inputs))
    x0 = objective.start()
    assert x0[0] * x0[1] == pytest.approx(product)
    minimum = 0.5 * np.mean((product * inputs - targets) ** 2)
    assert objective.f(x0) == pytest.approx(minimum)
    assert minimum > 0.0
    for w in (x0, np.array([2.0, product / 2.0]), np.array([-0.5, -2.0 * product])):
        assert objective.f(w) == pytest.approx(minimum)
        np.testing.assert_allclose(objective.gradient(w), 0.0, atol=1e-12)
        component_norms = [np.linalg.norm(objective.component_gradient(w, a)) for a in range(objective.m)]
        assert max(component_norms) > 1e-3
    negative = valley(seed=0, slope=-1.0)
    start = negative.start()
    assert start[0] * start[1] == pytest.approx(valley_product(negative)) and valley_product(negative) < 0


def test_valley_product_rejects_other_objectives():
    with pytest.raises(ValueError, match="valley"):
        valley_product(make("wells", 3))


@pytest.mark.parametrize("name", NAMES)
def test_dim_must_be_positive(name):
    with pytest.raises(ValueError, match="dim"):
        make(name, 0)


@pytest.mark.parametrize("build_bad, parameter", [
    (lambda: valley(3), "dim"),
    (lambda: valley(m=0), "m"),
    (lambda: valley(noise=-1.0), "noise"),
    (lambda: valley(slope=np.inf), "slope"),
    (lambda: robust_regression(m=0), "m"),
    (lambda: robust_regression(noise="big"), "noise"),
    (lambda: logistic_nonconvex(lam=-0.1), "lam"),
    (lambda: logistic_nonconvex(m=2.5), "m"),
    (lambda: separable_wells(beta=0.0), "beta"),
    (lambda: separable_wells(omega=np.nan), "omega"),
    (lambda: make("no-such-objective"), "unknown objective 'no-such-objective'"),
])
def test_bad_input_names_the_parameter(build_bad, parameter):
    with pytest.raises(ValueError, match=parameter):
        build_bad()


def same_data(first, second):
    return all(np.array_equal(a, b) for a, b in zip(first.data, second.data, strict=True))


@pytest.mark.parametrize("name", NAMES)
def test_seed_reproduces_the_data(name):
    objective = build(name, seed=11)
    again = build(name, seed=11)
    assert same_data(objective, again) and objective.params == again.params
    if name in SEED_FREE:
        assert same_data(objective, build(name, seed=12))
    else:
        assert objective.params["seed"] == 11
        assert not same_data(objective, build(name, seed=12))


@pytest.mark.parametrize("name", ["robust-regression", "logistic-nonconvex"])
def test_variance_bound_holds_at_random_points(name):
    # sup_x V(x) <= variance_bound: checked at random points, including far ones.
    objective = make(name, 4, seed=3)
    rng = np.random.default_rng(0)
    for scale in (0.1, 1.0, 10.0, 100.0):
        for x in scale * rng.standard_normal((20, objective.dim)):
            g = objective.gradient(x)
            V = np.mean([np.sum((objective.component_gradient(x, a) - g) ** 2) for a in range(objective.m)])
            assert objective.variance_bound * (1 + 1e-12) >= V


# ---------------------------------------------------------------- validation at construction
# A user's objective as the README writes one: f(x) = ||x - c||^2 / 2 (L = 1, minimum 0 at the
# start c = 0), data = (c, b), and variants with one thing wrong.

@njit(cache=True)
def _half_square(x, data):
    return 0.5 * np.sum((x - data[0]) ** 2)


@njit(cache=True)
def _exact_grad(x, data, out):
    out[:] = x - data[0]


@njit(cache=True)
def _biased_grad(x, data, out):
    out[:] = x - data[0] + data[1]


@njit(cache=True)
def _exact_hvp(x, v, data, out):
    out[:] = v


@njit(cache=True)
def _halved_hvp(x, v, data, out):
    out[:] = 0.5 * v


def user_objective(grad=_exact_grad, hvp=_exact_hvp, **changes):
    dim = 4
    bias = np.full(dim, 0.075)  # ||b||^2 = 4 * 0.075^2 = 0.0225, the bias
    fields = {"L": 1.0, "f_low": 0.0, **changes}
    return Objective("mine", dim, (np.zeros(dim), bias), _half_square, grad, hvp, **fields)


POINT = rf"at sample point \d of seed {zlib.crc32(b'mine')} "


@pytest.mark.parametrize("name", NAMES)
def test_every_builtin_passes_validation(name):
    # make() validates; several sizes and data seeds, each at its own seeded sample points.
    for dim in ([2] if name == "valley" else [1, 3, 20]):
        for seed in range(3):
            make(name, dim, seed)
    make(name)  # the default size


def test_the_correct_user_objective_passes():
    assert user_objective().L == 1.0


@pytest.mark.parametrize("wrong, message", [
    (dict(grad=_biased_grad),
     r"the gradient differs from central differences of f by .*" + POINT
     + r".*grad f is not the derivative of f; check grad$"),
    (dict(hvp=_halved_hvp),
     r"the Hessian-vector product differs from central differences of grad f by .*" + POINT
     + r".*hvp is not the derivative of grad f; check hvp$"),
    (dict(L=0.5),
     r"\|\|grad f\(x\) - grad f\(y\)\|\| / \|\|x - y\|\| = 1 exceeds L = 0.5 by 1 \(relative\) "
     + POINT + r".*L is not a smoothness constant; check L$"),
    (dict(f_low=0.1),
     r"f = 0 is below f_low = 0.1 by 0.1 at \(or within .* of\) sample point 0 of seed \d+ \(the start\): "
     r"f_low is not a lower bound; check f_low$"),
])
def test_a_wrong_user_objective_is_rejected_naming_what_is_wrong(wrong, message):
    with pytest.raises(ValueError, match=r"^objective 'mine': " + message):
        user_objective(**wrong)


@pytest.mark.parametrize("name, change, field", [
    ("wells", dict(L=8.0), "L"),  # true L = 17, reached where cos(omega t) = 1
    ("logistic-nonconvex", dict(L=0.1), "L"),
    ("nqm", dict(f_low=0.1), "f_low"),  # minimum 0 at the start
    ("robust-regression", dict(variance_bound=1e-3), "variance_bound"),
])
def test_a_builtin_with_wrong_metadata_is_rejected(name, change, field):
    with pytest.raises(ValueError, match=rf"^objective '{name}': .* check {field}$"):
        replace(make(name, 5), **change)


@njit(cache=True)
def _doubled_component_grad(w, a, data, out):
    _valley_component_grad(w, a, data, out)
    out[:] *= 2.0


@njit(cache=True)
def _shifted_component_value(w, a, data):
    return _valley_component_value(w, a, data) + 1.0


def test_wrong_components_are_rejected():
    with pytest.raises(ValueError, match=r"the gradient differs from central differences of f_\d+ .*"
                                         r"check component_grad$"):
        replace(valley(), component_grad=_doubled_component_grad)
    # derivatives right, but the components no longer average to f
    with pytest.raises(ValueError, match=r"the mean of the 16 components differs from f by 1 .*"
                                         r"f is not the mean of its components; check component_value$"):
        replace(valley(), component_value=_shifted_component_value)


def test_validate_false_skips_every_evaluation():
    def never(*args):
        raise AssertionError("evaluated")

    huge = Objective("huge", 3, (), never, never, never, L=1.0, f_low=0.0, validate=False)
    assert huge.L == 1.0
    user_objective(grad=_biased_grad, L=0.5, f_low=0.1, validate=False)  # nothing checked
    with pytest.raises(AssertionError, match="evaluated"):
        Objective("huge", 3, (), never, never, never, L=1.0, f_low=0.0)
    with pytest.raises(ValueError, match=r"x0 must have shape \(3,\)"):  # structure still checked
        Objective("huge", 3, (), never, never, never, L=1.0, f_low=0.0, x0=np.zeros(2), validate=False)


def test_validation_is_deterministic():
    # The points come from a seed derived from the name: the same verdict, point and size each time.
    messages = set()
    for _ in range(3):
        with pytest.raises(ValueError) as caught:
            user_objective(grad=_biased_grad)
        messages.add(str(caught.value))
    assert len(messages) == 1
