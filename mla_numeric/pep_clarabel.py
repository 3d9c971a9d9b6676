"""PEPit's problems handed to Clarabel directly, without cvxpy's compilation.

cvxpy turns PEPit's thousands of scalar constraints into a conic program one expression tree at a
time; for the worst-case SDPs of ``worst_case`` that takes about 80 % of the time, the solver the
rest. Every PEPit constraint is already linear in the Gram matrix G and the function values F
(a dictionary of weights), so this wrapper writes the conic program itself, as PEPit's own MOSEK
wrapper does, in Clarabel's standard form (Goulart & Chen, "Clarabel: an interior-point
solver for conic programs with quadratic objectives", 2024):

    minimise -tau  subject to  A x + s = b,  s in {0}^e x R_+^m x S_+(N)

over x = (svec G, F): svec stacks the upper triangle of G column by column, off-diagonal entries
times sqrt 2, so that <S, G> = svec(S) . svec(G) and Clarabel's PSD triangle cone is G >= 0.
A constraint Tr(A_i G) + a_i . F + c_i <= 0 (or = 0) is the row (svec-weights of A_i, a_i) with
b_i = -c_i. Clarabel's dual z is PEPit's: z_i >= 0 multiplies constraint i in the Lagrangian
tau - sum_i z_i e_i + <S, G>, smat of the PSD block of z is S, the residual, and the Lagrangian's
constant b . z is the bound the certificate proves: the dual value (``ClarabelPEP``).

The cvxpy wrapper solves the same program; the tests compare the two on the same problems.
In the local executor's second thread, a run that ends early stops the solver at its next
iteration (``execution.stop_event``).
"""
from __future__ import annotations

import math
from typing import Any

import clarabel
import numpy as np
import scipy.sparse as sp
from PEPit import PEP
from PEPit.constraint import Constraint
from PEPit.expression import Expression
from PEPit.point import Point
from PEPit.wrapper import Wrapper

from ._typing import FloatArray
from .execution import stop_event

__all__ = ["ClarabelWrapper", "ClarabelPEP", "STATUS"]

# Clarabel's status -> cvxpy's name for it (the names worst_case reports)
STATUS = {"Solved": "optimal", "AlmostSolved": "optimal_inaccurate", "DualInfeasible": "unbounded",
          "AlmostDualInfeasible": "unbounded_inaccurate", "PrimalInfeasible": "infeasible",
          "AlmostPrimalInfeasible": "infeasible_inaccurate"}


_OFF_DIAGONAL = math.sqrt(2.0)  # svec's weight of G[i, j], i != j


class ClarabelWrapper(Wrapper):
    """A PEPit ``Wrapper`` that builds Clarabel's conic program itself (module docstring).

    After ``solve``: ``status`` (cvxpy's names: "optimal", "unbounded", ...), ``primal_value`` (tau),
    ``dual_value`` (b . z, the bound the certificate proves) and ``violation``, the largest
    violation of a primal constraint, G >= 0 included.
    """

    def __init__(self, verbose: int = 0) -> None:
        super().__init__(verbose=verbose)
        self.solver_name = "CLARABEL"
        self.status = ""
        self.primal_value = self.dual_value = self.violation = math.nan
        # the scalar constraints as a sparse matrix in triplets, with their b_i and kinds
        self._rows: list[int] = []
        self._columns: list[int] = []
        self._values: list[float] = []
        self._b: list[float] = []
        self._equality: list[bool] = []

    def set_main_variables(self) -> None:
        self._size = Point.counter
        self._gram = self._size * (self._size + 1) // 2
        self._variables = self._gram + Expression.counter

    def check_license(self) -> bool:
        return True

    def send_constraint_to_solver(self, constraint: Any) -> None:
        """Append the row of e(G, F) <= 0 (or = 0): e's weights on svec G and F, b = -(e's constant).

        w <x_i, x_j> is w G_ij = (w / sqrt 2) (svec G)_k for i != j; both orders of a pair land on
        the same k and add up when the matrix is assembled.
        """
        if constraint.equality_or_inequality not in ("equality", "inequality"):
            raise ValueError(f"constraint {constraint.get_name()}: equality_or_inequality must be 'equality' or "
                             f"'inequality', got {constraint.equality_or_inequality!r}")
        row, expression, constant = len(self._b), constraint.expression, 0.0
        terms = {expression: 1.0} if expression.get_is_leaf() else expression.decomposition_dict
        for key, weight in terms.items():
            if type(key) is tuple:
                i, j = sorted((key[0].counter, key[1].counter))
                self._columns.append(j * (j + 1) // 2 + i)  # svec: the upper triangle column by column
                self._values.append(weight if i == j else weight * _OFF_DIAGONAL / 2)
            elif type(key) is Expression:
                self._columns.append(self._gram + key.counter)
                self._values.append(weight)
            elif key == 1:
                constant = weight
                continue
            else:
                raise TypeError(f"constraint {constraint.get_name()}: a term {key!r} is neither a function value, "
                                f"an inner product nor a constant")
            self._rows.append(row)
        self._list_of_constraints_sent_to_solver.append(constraint)
        self._b.append(-float(constant))
        self._equality.append(constraint.equality_or_inequality == "equality")

    def send_lmi_constraint_to_solver(self, psd_matrix: Any) -> None:
        raise NotImplementedError("ClarabelWrapper takes scalar constraints only (worst_case needs no LMI); "
                                  "use PEPit's cvxpy wrapper for problems with PSD matrices")

    def generate_problem(self, objective: Any) -> None:
        self.objective = objective
        self.prob = self

    def solve(self, **kwargs: Any) -> tuple[str, str, float | None]:
        """Solve; (status, "CLARABEL", tau or None when not solved). kwargs: Clarabel's settings."""
        # rows: the equalities first, then the inequalities (Clarabel's cone order), then G >= 0
        equality = np.array(self._equality, dtype=bool)
        order = np.concatenate([np.flatnonzero(equality), np.flatnonzero(~equality)])
        scalar_rows, equalities = len(order), int(equality.sum())
        position = np.empty(scalar_rows, dtype=np.int64)
        position[order] = np.arange(scalar_rows)
        A = sp.vstack([
            sp.csc_matrix((np.array(self._values, dtype=float),
                           (position[np.array(self._rows, dtype=np.int64)], np.array(self._columns, dtype=np.int64))),
                          shape=(scalar_rows, self._variables)),
            -sp.eye(self._gram, self._variables)]).tocsc()  # -svec G + s = 0, s in S_+
        b = np.concatenate([np.array(self._b)[order], np.zeros(self._gram)])
        q = np.zeros(self._variables)
        q[self._gram + self.objective.counter] = -1.0  # maximise tau
        cones = [clarabel.ZeroConeT(equalities), clarabel.NonnegativeConeT(scalar_rows - equalities),
                 clarabel.PSDTriangleConeT(self._size)]
        settings = clarabel.DefaultSettings()
        settings.verbose = self.verbose > 1
        for name, value in kwargs.items():
            setattr(settings, name, value)
        P = sp.csc_matrix((self._variables, self._variables))
        solver = clarabel.DefaultSolver(P, q, A, b, cones, settings)
        stop = stop_event()
        if stop is not None:  # only there: elsewhere a Ctrl-C inside the callback would be lost
            solver.set_termination_callback(lambda info: stop.is_set())  # polled once per iteration
        solution = solver.solve()
        if str(solution.status) == "CallbackTerminated":
            raise KeyboardInterrupt("the run this program belongs to was interrupted")
        self.status = STATUS.get(str(solution.status), str(solution.status))
        if self.status not in ("optimal", "optimal_inaccurate"):
            return self.status, self.solver_name, None
        x, z = np.array(solution.x), np.array(solution.z)
        self.optimal_G = _smat(x[:self._gram], self._size)
        self.optimal_F = x[self._gram:]
        self._duals = np.empty(scalar_rows)
        self._duals[order] = z[:scalar_rows]
        self.residual = _smat(z[scalar_rows:], self._size)
        self.dual_value = float(b[:scalar_rows] @ z[:scalar_rows])
        e = A[:scalar_rows] @ x - b[:scalar_rows]  # e_i(x): = 0 for equalities, <= 0 for inequalities
        self.violation = max(float(np.max(np.abs(e[:equalities]), initial=0.0)),
                             float(np.max(e[equalities:], initial=0.0)),
                             -float(np.linalg.eigvalsh(self.optimal_G)[0]), 0.0)
        self.primal_value = float(self.optimal_F[self.objective.counter])
        return self.status, self.solver_name, self.optimal_F[self.objective.counter]

    def _recover_dual_values(self) -> tuple[list[Any], FloatArray]:
        """[residual, dual of each constraint sent, in order], residual."""
        assert all(isinstance(constraint, Constraint) for constraint in self._list_of_constraints_sent_to_solver)
        return [self.residual] + list(self._duals), self.residual


class ClarabelPEP(PEP):
    """A PEP whose dual value, after ``ClarabelWrapper`` solved it, is ``dual_value`` = b . z.

    PEPit's ``check_feasibility`` rebuilds that same number, the constant term of the Lagrangian
    tau - sum_i z_i e_i + <S, G>, by adding up the constraints' expressions one by one in Python: a
    third of the time of a 61-point SDP. With any other wrapper it runs as in PEPit.
    """

    def check_feasibility(self, wc_value: float, verbose: int = 1) -> float:
        if isinstance(self.wrapper, ClarabelWrapper):
            return self.wrapper.dual_value
        checked: float = super().check_feasibility(wc_value, verbose=verbose)
        return checked


def _smat(vector: FloatArray, size: int) -> FloatArray:
    """The symmetric matrix whose svec is ``vector`` (off-diagonal entries divided by sqrt 2)."""
    matrix = np.zeros((size, size))
    upper = np.triu_indices(size)
    # svec order is column by column over the upper triangle: sort (i, j) by (j, i)
    order = np.lexsort((upper[0], upper[1]))
    i, j = upper[0][order], upper[1][order]
    matrix[i, j] = np.where(i == j, vector, vector / _OFF_DIAGONAL)
    matrix[j, i] = matrix[i, j]
    return matrix
