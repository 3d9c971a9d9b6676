"""PEPit's problems handed to Clarabel directly, without cvxpy's compilation.

cvxpy turns PEPit's thousands of scalar constraints into a conic program one expression tree at a
time; for the worst-case SDPs of ``worst_case`` that takes about 80 % of the time, the solver the
rest. Every PEPit constraint is already linear in the Gram matrix G and the function values F
(``expression_to_sparse_matrices``), so this wrapper writes the conic program itself, as PEPit's
own MOSEK wrapper does, in Clarabel's standard form (Goulart & Chen, "Clarabel: an interior-point
solver for conic programs with quadratic objectives", 2024):

    minimise -tau  subject to  A x + s = b,  s in {0}^e x R_+^m x S_+(N)

over x = (svec G, F): svec stacks the upper triangle of G column by column, off-diagonal entries
times sqrt 2, so that <S, G> = svec(S) . svec(G) and Clarabel's PSD triangle cone is G >= 0.
A constraint Tr(A_i G) + a_i . F + c_i <= 0 (or = 0) is the row (svec-weights of A_i, a_i) with
b_i = -c_i. Clarabel's dual z is PEPit's: z_i >= 0 multiplies constraint i in the Lagrangian
tau - sum_i z_i e_i + <S, G>, and smat of the PSD block of z is S, the residual, from which PEPit
rebuilds its proof and the dual value it returns (``PEP.check_feasibility``).

The cvxpy wrapper solves the same program; the tests compare the two on the same problems.
"""
from __future__ import annotations

import math
from typing import Any

import clarabel
import numpy as np
import scipy.sparse as sp
from PEPit.constraint import Constraint
from PEPit.expression import Expression
from PEPit.point import Point
from PEPit.tools.expressions_to_matrices import expression_to_sparse_matrices
from PEPit.wrapper import Wrapper

from ._typing import FloatArray

__all__ = ["ClarabelWrapper", "STATUS"]

# Clarabel's status -> cvxpy's name for it (the names worst_case reports)
STATUS = {"Solved": "optimal", "AlmostSolved": "optimal_inaccurate", "DualInfeasible": "unbounded",
          "AlmostDualInfeasible": "unbounded_inaccurate", "PrimalInfeasible": "infeasible",
          "AlmostPrimalInfeasible": "infeasible_inaccurate"}


_OFF_DIAGONAL = math.sqrt(2.0)  # svec's weight of G[i, j], i != j


class ClarabelWrapper(Wrapper):
    """A PEPit ``Wrapper`` that builds Clarabel's conic program itself (module docstring).

    After ``solve``: ``status`` (cvxpy's names: "optimal", "unbounded", ...), ``primal_value`` (tau)
    and ``violation``, the largest violation of a primal constraint, G >= 0 included.
    """

    def __init__(self, verbose: int = 0) -> None:
        super().__init__(verbose=verbose)
        self.solver_name = "CLARABEL"
        self.status = ""
        self.primal_value = math.nan
        self.violation = math.nan
        self._rows: list[tuple[FloatArray, FloatArray, float, bool]] = []  # columns, values, b, equality

    def set_main_variables(self) -> None:
        self._size = Point.counter
        self._gram = self._size * (self._size + 1) // 2
        self._variables = self._gram + Expression.counter

    def check_license(self) -> bool:
        return True

    def _row(self, expression: Any) -> tuple[FloatArray, FloatArray, float]:
        """(columns, values, constant) of an expression, linear in x = (svec G, F)."""
        gi, gj, gv, fi, fv, constant = expression_to_sparse_matrices(expression)
        gi, gj, fi = (np.asarray(a, dtype=np.int64) for a in (gi, gj, fi))
        low, high = np.minimum(gi, gj), np.maximum(gi, gj)
        columns = np.concatenate([high * (high + 1) // 2 + low, self._gram + fi])  # svec: column by column
        values = np.concatenate([np.asarray(gv, dtype=float) * np.where(gi == gj, 1.0, _OFF_DIAGONAL),
                                 np.asarray(fv, dtype=float)])
        return columns, values, float(constant)

    def send_constraint_to_solver(self, constraint: Any) -> None:
        if constraint.equality_or_inequality not in ("equality", "inequality"):
            raise ValueError(f"constraint {constraint.get_name()}: equality_or_inequality must be 'equality' or "
                             f"'inequality', got {constraint.equality_or_inequality!r}")
        columns, values, constant = self._row(constraint.expression)
        self._list_of_constraints_sent_to_solver.append(constraint)
        self._rows.append((columns, values, -constant, constraint.equality_or_inequality == "equality"))

    def send_lmi_constraint_to_solver(self, psd_matrix: Any) -> None:
        raise NotImplementedError("ClarabelWrapper takes scalar constraints only (worst_case needs no LMI); "
                                  "use PEPit's cvxpy wrapper for problems with PSD matrices")

    def generate_problem(self, objective: Any) -> None:
        self.objective = objective
        self.prob = self

    def solve(self, **kwargs: Any) -> tuple[str, str, float | None]:
        """Solve; (status, "CLARABEL", tau or None when not solved). kwargs: Clarabel's settings."""
        # rows: the equalities first, then the inequalities (Clarabel's cone order), then G >= 0
        order = sorted(range(len(self._rows)), key=lambda r: not self._rows[r][3])
        scalar_rows, equalities = len(order), sum(row[3] for row in self._rows)
        columns = [self._rows[r][0] for r in order]
        A = sp.vstack([
            sp.csc_matrix((np.concatenate([self._rows[r][1] for r in order] + [np.zeros(0)]),
                           (np.repeat(np.arange(scalar_rows), [len(c) for c in columns]),
                            np.concatenate(columns + [np.zeros(0, dtype=np.int64)]))),
                          shape=(scalar_rows, self._variables)),
            -sp.eye(self._gram, self._variables)]).tocsc()  # -svec G + s = 0, s in S_+
        b = np.concatenate([[self._rows[r][2] for r in order], np.zeros(self._gram)])
        q = np.zeros(self._variables)
        q[self._gram + self.objective.counter] = -1.0  # maximise tau
        cones = [clarabel.ZeroConeT(equalities), clarabel.NonnegativeConeT(scalar_rows - equalities),
                 clarabel.PSDTriangleConeT(self._size)]
        settings = clarabel.DefaultSettings()
        settings.verbose = self.verbose > 1
        for name, value in kwargs.items():
            setattr(settings, name, value)
        P = sp.csc_matrix((self._variables, self._variables))
        solution = clarabel.DefaultSolver(P, q, A, b, cones, settings).solve()
        self.status = STATUS.get(str(solution.status), str(solution.status))
        if self.status not in ("optimal", "optimal_inaccurate"):
            return self.status, self.solver_name, None
        x, z = np.array(solution.x), np.array(solution.z)
        self.optimal_G = _smat(x[:self._gram], self._size)
        self.optimal_F = x[self._gram:]
        self._duals = np.empty(scalar_rows)
        self._duals[order] = z[:scalar_rows]
        self.residual = _smat(z[scalar_rows:], self._size)
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
