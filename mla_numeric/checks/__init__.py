"""Claim checks: each returns ``CheckResult`` objects (result.py), one module per claim."""
from .result import CheckResult

__all__ = ["CheckResult"]
