"""Checks, at construction, that an objective's functions and metadata are what they claim.

A wrong gradient, Hessian-vector product, L or f_low does not make the simulations fail: it makes
their verdicts wrong (a biased gradient can "hold" a bound it does not satisfy). So every
``Objective`` is checked at a few seeded points when it is built; ``Objective(...,
validate=False)`` skips every check below (for objectives too costly to evaluate ~60 times).

Sample points. With s = max(1, RMS of the start point) the objective's length scale,
x_0 = start and x_k = start + r_k s z_k (r = 0.1, 1, 10), z_k ~ N(0, I), with a random unit
direction u_k (and, for a finite sum, a random component a_k) at each; all drawn from
``numpy.random.default_rng(zlib.crc32(name))``, so a construction passes or fails the same way
every time.

Derivatives (Taylor expansion and rounding; Nocedal & Wright, *Numerical Optimization*, 2006,
section 8.1). Along u, with phi(t) = f(x + t u), the central difference

    D(h) = (phi(h) - phi(-h)) / 2h = phi'(0) + h^2 phi'''(0) / 6 + O(h^4)

in exact arithmetic, and each computed phi carries an absolute rounding error of at most delta_f,
which moves D(h) by at most delta_f / h. The sum is smallest for h ~ (delta_f / phi''')^(1/3);
for f varying on the length s that is h = eps^(1/3) s, with an error O(eps^(2/3)) relative to
the derivative. Rather than guess phi''', step doubling measures it:
D(2h) - D(h) = h^2 phi'''(0) / 2 + O(h^4), three times the truncation error of D(h). A correct
gradient therefore satisfies

    |D(h) - grad f(x) . u| <= K (|D(2h) - D(h)| / 3 + delta_f / h),
    delta_f = eps (max |f| + max ||grad f|| l),    l = ||x|| + s sqrt(d),

the maxima over the stencil x, x +- h u, x +- 2h u. delta_f bounds the rounding of f's result and
f's change when its argument is rounded (relative error eps on a vector of length at most l; the
gradients at x +- h u keep this positive at a stationary point). The same expansion of
Q(h) = (grad f(x + h u) - grad f(x - h u)) / 2h = Hess f(x) u + O(h^2) checks the product:

    ||Q(h) - hvp(x, u)|| <= K (||Q(2h) - Q(h)|| / 3 + delta_g / h),
    delta_g = eps (max ||grad f|| + c l),

with c >= ||Hess f(x) u|| the largest gradient-difference quotient measured at x (below).
The components of a finite sum are checked the same way, and at x_2 their mean against f, grad f:
|mean_a f_a - f| <= K eps (mean_a |f_a| + l mean_a ||grad f_a||) and
||mean_a grad f_a - grad f|| <= K eps (mean_a ||grad f_a|| + c l).

K = 100 is the allowance for rounding that accumulates over many operations: worst case n eps
for n terms, typically sqrt(n) eps (Higham, *Accuracy and Stability of Numerical Algorithms*,
2002, Lemma 3.1 and section 2.8), so K covers sums of about 10^4 independent errors, and the
O(h^4) remainder of the step-doubling estimate. For f and its derivatives of size 1 on the
length 1 the tolerances are about 1e-8 relative, far below errors that change a verdict.

L. For an L-smooth f every pair of points satisfies q = ||grad f(x) - grad f(y)|| / ||x - y|| <= L,
exactly (no truncation), so each pair evaluated refutes a too small L. The pairs are x with
every stencil point and with y = x + h v along a few steps of power iteration
v <- (grad f(x + h v) - grad f(x)) / ||...|| started from Q(h), which turns v towards the top
eigenvector of Hess f(x), so q approaches ||Hess f(x)||. Allowed for rounding:
q <= L (1 + K eps) + 2 K delta_g / ||x - y||.

f_low and variance_bound. f(y) >= f_low - K delta_f at every point where f was evaluated; at x_2,
V = (1/m) sum_a ||grad f_a - grad f||^2 <= variance_bound + K eps mean_a (||grad f_a|| + ||grad f||)^2.

Cost: 5 values, 5 + POWER_STEPS gradients and 1 product per point (4 points: 56 evaluations),
plus for a finite sum the same for one component per point and m values and gradients of
components at x_2 (about two evaluations of f).
"""
from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, NoReturn, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

from .._typing import FloatArray

if TYPE_CHECKING:
    from .base import Objective

__all__ = ["validate"]

Fail: TypeAlias = Callable[[str], NoReturn]  # raises ValueError with the message
Value: TypeAlias = Callable[[FloatArray], float]
Gradient: TypeAlias = Callable[[FloatArray], FloatArray]
Product: TypeAlias = Callable[[FloatArray, FloatArray], FloatArray]

EPS = np.finfo(np.float64).eps
K = 100.0  # allowance for accumulated rounding (module docstring)
RADII = (0.0, 0.1, 1.0, 10.0)
OFFSETS = (-2, -1, 1, 2)  # the stencil x + i h u
POWER_STEPS = 3
AVERAGE_POINT = 2  # the sample point where a finite sum's components are averaged


class _Stencil(NamedTuple):
    """A function's values and gradients at x + i h u (i in OFFSETS) and at x, and hvp(x, u)."""
    points: list[FloatArray]
    values: list[float]
    grads: list[FloatArray]
    g: FloatArray
    product: FloatArray


def validate(objective: Objective) -> None:
    """Raise ValueError, naming the quantity, the point and the size, if a check above fails."""
    seed = zlib.crc32(objective.name.encode())
    rng = np.random.default_rng(seed)
    start = objective.start()
    d = objective.dim
    s = max(1.0, float(np.sqrt(np.mean(start ** 2))))
    h = EPS ** (1 / 3) * s

    def fail(message: str) -> NoReturn:
        raise ValueError(f"objective {objective.name!r}: {message}")

    full = (objective.f, objective.gradient, objective.hessian_vector)
    for k, radius in enumerate(RADII):
        x = start + radius * s * rng.standard_normal(d)
        u = rng.standard_normal(d)
        u /= np.linalg.norm(u)
        where = f"sample point {k} of seed {seed} " + (
            f"(x = start + {radius:g} s z, z ~ N(0, I), s = {s:g})" if radius else "(the start)")
        length = np.linalg.norm(x) + s * np.sqrt(d)

        stencil = _evaluate(*full, x, u, h, "f", fail, where)
        pairs = list(zip(stencil.points, stencil.grads, strict=True))
        v = stencil.grads[2] - stencil.grads[1]
        for _ in range(POWER_STEPS):  # v -> Hess f(x) v / ||Hess f(x) v||, by gradient differences
            if not np.linalg.norm(v) > 0:
                break
            y = x + h * v / np.linalg.norm(v)
            pairs.append((y, objective.gradient(y)))
            v = pairs[-1][1] - stencil.g
        quotients = [np.linalg.norm(gy - stencil.g) / np.linalg.norm(y - x) for y, gy in pairs]
        if not np.all(np.isfinite(quotients)):
            fail(f"grad f is not finite within {h:.2g} of {where}; check grad")
        delta_f, delta_g = _check_derivatives(stencil, u, h, length, max(quotients), "f", "", fail, where)

        if objective.L is not None:
            for (y, _), q in zip(pairs, quotients, strict=True):
                step = np.linalg.norm(y - x)
                if q > objective.L * (1 + K * EPS) + 2 * K * delta_g / step:
                    fail(f"||grad f(x) - grad f(y)|| / ||x - y|| = {q:.6g} exceeds L = {objective.L:.6g} "
                         f"by {q / objective.L - 1:.3g} (relative) at {where} and y at distance "
                         f"{step:.2g}: L is not a smoothness constant; check L")
        lowest = min(stencil.values)
        if lowest < objective.f_low - K * delta_f:
            fail(f"f = {lowest:.6g} is below f_low = {objective.f_low:.6g} by "
                 f"{objective.f_low - lowest:.3g} at (or within {2 * h:.2g} of) {where}: "
                 f"f_low is not a lower bound; check f_low")

        if objective.is_finite_sum:
            a = int(rng.integers(objective.m))
            stencil_a = _evaluate(*_component(objective, a), x, u, h, f"f_{a}", fail, where)
            curvature_a = np.linalg.norm(stencil_a.grads[2] - stencil_a.grads[1]) / (2 * h)
            _check_derivatives(stencil_a, u, h, length, curvature_a, f"f_{a}", "component_", fail, where)
            if k == AVERAGE_POINT:
                _check_components(objective, x, stencil, length, max(quotients), fail, where)


def _component(objective: Objective, a: int) -> tuple[Value, Gradient, Product]:
    """f_a, grad f_a and the Hessian-vector product of f_a, as functions of x (and v)."""
    return (lambda x: objective.component(x, a), lambda x: objective.component_gradient(x, a),
            lambda x, v: objective.component_hessian_vector(x, a, v))


def _evaluate(value: Value, grad: Gradient, hvp: Product, x: FloatArray, u: FloatArray, h: float, label: str,
              fail: Fail, where: str) -> _Stencil:
    points = [x + i * h * u for i in OFFSETS]
    stencil = _Stencil(points, [value(p) for p in points] + [value(x)], [grad(p) for p in points],
                       grad(x), hvp(x, u))
    result: ArrayLike
    for quantity, result in ((label, stencil.values), (f"grad {label}", stencil.grads + [stencil.g]),
                             (f"the Hessian-vector product of {label}", stencil.product)):
        if not np.all(np.isfinite(result)):
            fail(f"{quantity} is not finite at (or within {2 * h:.2g} of) {where}")
    return stencil


def _check_derivatives(stencil: _Stencil, u: FloatArray, h: float, length: float, curvature: float, label: str,
                       prefix: str, fail: Fail, where: str) -> tuple[float, float]:
    """The gradient and hvp checks of the module docstring; returns (delta_f, delta_g)."""
    values, grads, g = stencil.values, stencil.grads, stencil.g
    largest_g = max(float(np.linalg.norm(gradient)) for gradient in grads + [g])
    delta_f = EPS * (max(abs(value) for value in values) + largest_g * length)
    delta_g = EPS * (largest_g + curvature * length)

    D = ((values[2] - values[1]) / (2 * h), (values[3] - values[0]) / (4 * h))
    error = abs(D[0] - float(g @ u))
    tolerance = K * (abs(D[1] - D[0]) / 3 + delta_f / h)
    if error > tolerance:
        fail(f"the gradient differs from central differences of {label} by {error:.3g} "
             f"({_relative(error, float(np.linalg.norm(g)))} relative to ||grad {label}(x)||; tolerance "
             f"{tolerance:.2g}) along a random unit direction at {where}: grad {label} is not the "
             f"derivative of {label}; check {prefix}grad")

    Q = ((grads[2] - grads[1]) / (2 * h), (grads[3] - grads[0]) / (4 * h))
    error = float(np.linalg.norm(Q[0] - stencil.product))
    tolerance = K * (float(np.linalg.norm(Q[1] - Q[0])) / 3 + delta_g / h)
    if error > tolerance:
        fail(f"the Hessian-vector product differs from central differences of grad {label} by "
             f"{error:.3g} ({_relative(error, float(np.linalg.norm(stencil.product)))} relative to "
             f"||hvp(x, u)||; tolerance {tolerance:.2g}) along a random unit direction u at {where}: "
             f"hvp is not the derivative of grad {label}; check {prefix}hvp")
    return delta_f, delta_g


def _check_components(objective: Objective, x: FloatArray, stencil: _Stencil, length: float, curvature: float,
                      fail: Fail, where: str) -> None:
    """The components' mean against f and grad f, and V(x) against variance_bound, at x."""
    m = objective.m
    values = np.array([objective.component(x, a) for a in range(m)])
    grads = np.array([objective.component_gradient(x, a) for a in range(m)])
    f, g = stencil.values[-1], stencil.g
    grad_norms = np.linalg.norm(grads, axis=1)
    error = abs(values.mean() - f)
    tolerance = K * EPS * (np.mean(np.abs(values)) + length * grad_norms.mean())
    if error > tolerance:
        fail(f"the mean of the {m} components differs from f by {error:.3g} (tolerance "
             f"{tolerance:.2g}) at {where}: f is not the mean of its components; check component_value")
    error = np.linalg.norm(grads.mean(axis=0) - g)
    tolerance = K * EPS * (grad_norms.mean() + curvature * length)
    if error > tolerance:
        fail(f"the mean of the {m} component gradients differs from grad f by {error:.3g} (tolerance "
             f"{tolerance:.2g}) at {where}: grad f is not the mean of theirs; check component_grad")
    if objective.variance_bound is not None:
        V = np.mean(np.sum((grads - g) ** 2, axis=1))
        allowed = objective.variance_bound + K * EPS * np.mean((grad_norms + np.linalg.norm(g)) ** 2)
        if allowed < V:
            bound = objective.variance_bound
            fail(f"V(x) = (1/m) sum_a ||grad f_a(x) - grad f(x)||^2 = {V:.6g} exceeds variance_bound "
                 f"= {bound:.6g} by {_relative(V - bound, bound)} (relative) at {where}: "
                 f"variance_bound does not bound the minibatch variance; check variance_bound")


def _relative(size: float, norm: float) -> str:
    return f"{size / norm:.2g}" if norm > 0 else "inf"
