"""PEPit's problems handed to Clarabel directly (mla_numeric.pep_clarabel) against the slow twin,
PEPit's own cvxpy wrapper with Clarabel, on the same problems.

Both solve the same SDP to Clarabel's tolerance (1e-8, relative); RTOL allows for the two programs'
different scalings. The negative control mis-scales svec (off-diagonal weight 1 instead of sqrt 2),
a different SDP, and the comparison must then fail.
"""
import io
import math
import re
from contextlib import redirect_stdout

import numpy as np
import pytest

pytest.importorskip("cvxpy")
pytest.importorskip("PEPit")

from PEPit import PEP  # noqa: E402
from PEPit.functions import SmoothFunction  # noqa: E402

from mla_numeric import pep_clarabel  # noqa: E402
from mla_numeric.worst_case import _CLARABEL_WRAPPER, _pepit, performance_problem  # noqa: E402

RTOL = 1e-6

SETTINGS = [  # (layers, eta L, T, metric): nestings of depth 0..2, both measures, 4 to 25 points
    ([], 1.0, 3, "min"),
    ([(3, 0.5)], 0.2, 2, "average"),
    ([(2, 0.5), (2, 0.5)], 0.3, 3, "average"),
    ([(2, 0.8), (3, 0.3)], 0.25, 2, "min"),
]


def gradient_descent_with_an_equality(pep):
    """Gradient descent, step 1/L, 3 steps, ``min`` measure, with f(x_0) - f(x_3) = 1 an equality."""
    problem = pep()
    f = problem.declare_function(SmoothFunction, L=1.0)
    x = [problem.set_initial_point()]
    for _ in range(3):
        x.append(x[-1] - f.gradient(x[-1]))
    for point in x:
        problem.set_performance_metric(f.gradient(point) ** 2)
    problem.set_initial_condition(f.value(x[0]) - f.value(x[-1]) == 1)
    return problem, f


def solve(setting, wrapper):
    _pepit()  # registers the wrapper
    pep = PEP if wrapper == "cvxpy" else pep_clarabel.ClarabelPEP
    problem, _ = (gradient_descent_with_an_equality(pep) if setting == "equality"
                  else performance_problem(pep, SmoothFunction, *setting))
    with redirect_stdout(io.StringIO()):
        if wrapper == "cvxpy":
            value = problem.solve(wrapper="cvxpy", solver="CLARABEL", verbose=0)
        else:
            value = problem.solve(wrapper=_CLARABEL_WRAPPER, safe_mode=False, verbose=0, max_threads=1)
    return value, problem


def rebuilt_proof(problem):
    """(dual value, leftover): PEPit's reconstruction of the proof from the multipliers, and the sum
    of the non-constant terms it leaves (0 for an exact certificate), read from its report."""
    with redirect_stdout(io.StringIO()) as printed:
        rebuilt = PEP.check_feasibility(problem, problem.objective.eval(), verbose=1)
    leftover = re.search(r"reconstituted up to an error of (\S+)", printed.getvalue())
    return rebuilt, 0.0 if leftover is None else float(leftover.group(1))


@pytest.mark.filterwarnings("ignore:Solution may be inaccurate")  # the twin's; the value is compared
@pytest.mark.parametrize("setting", SETTINGS + ["equality"])
def test_same_value_and_certificate_as_the_cvxpy_wrapper(setting):
    twin, _ = solve(setting, "cvxpy")
    value, problem = solve(setting, "direct")
    wrapper = problem.wrapper
    assert wrapper.status in ("optimal", "optimal_inaccurate")
    assert value == pytest.approx(twin, rel=RTOL)
    # The certificate PEPit rebuilt its dual value from: the residual S >= 0 and the multipliers of
    # the inequalities >= 0 (to the solver's tolerance), and a primal point close to feasible.
    assert np.linalg.eigvalsh(problem.residual)[0] > -1e-7
    assert min(constraint._dual_variable_value for constraint in problem._list_of_constraints_sent_to_wrapper
               if constraint.equality_or_inequality == "inequality") > -1e-7
    assert wrapper.violation < 1e-6 and wrapper.primal_value == pytest.approx(value, rel=RTOL)
    # ClarabelPEP's dual value b . z is the number PEPit rebuilds from the same multipliers, and
    # they prove it: the multipliers cancel every term but the constant (to the solver's tolerance)
    rebuilt, leftover = rebuilt_proof(problem)
    assert value == pytest.approx(rebuilt, rel=1e-9)
    assert leftover < 1e-5


@pytest.mark.filterwarnings("ignore:Solution may be inaccurate")
def test_a_mis_scaled_svec_is_caught(monkeypatch):
    setting = SETTINGS[2]
    twin, _ = solve(setting, "cvxpy")
    monkeypatch.setattr(pep_clarabel, "_OFF_DIAGONAL", 1.0)
    value, _ = solve(setting, "direct")
    assert value != pytest.approx(twin, rel=RTOL)


def test_an_unbounded_problem_is_reported_unbounded():
    # 2:0.5 at eta L = 3 on f = x^2 / 2: every visited point has |x| >= |x_0| (test_worst_case.py)
    value, problem = solve(([(2, 0.5)], 3.0, 2, "average"), "direct")
    assert value is None and problem.wrapper.status.startswith("unbounded")


def test_lmi_constraints_are_refused_with_a_clear_message():
    _pepit()
    problem, _ = performance_problem(pep_clarabel.ClarabelPEP, SmoothFunction, [], 1.0, 1, "min")
    x = problem.set_initial_point()
    problem.add_psd_matrix([[x ** 2, 0 * x ** 2], [0 * x ** 2, x ** 2]])
    with pytest.raises(NotImplementedError, match="scalar constraints only"):
        problem.solve(wrapper=_CLARABEL_WRAPPER, safe_mode=False, verbose=0)


def test_svec_and_smat_are_inverse():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(5, 5))
    gram = a + a.T
    svec = np.array([gram[i, j] * (1.0 if i == j else math.sqrt(2.0)) for j in range(5) for i in range(j + 1)])
    np.testing.assert_allclose(pep_clarabel._smat(svec, 5), gram, rtol=1e-15, atol=0)  # x sqrt 2 / sqrt 2: 1 ulp
    assert svec @ svec == pytest.approx(np.sum(gram * gram), rel=1e-14)  # <S, G> = svec S . svec G
