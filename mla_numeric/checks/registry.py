"""The check groups, in report order: the report, the command line, the cache, the notebook and the
scripts read claims, presets and help texts from here and nowhere else.

Adding a claim: a new module that defines ``GROUP = CheckGroup(...)`` (docs/adding_a_check.md),
and one line below.
"""
from __future__ import annotations

import importlib

from .group import CheckGroup, Claim

__all__ = ["MODULES", "groups", "group", "claims"]

MODULES = [
    "mla_numeric.checks.rate",
    "mla_numeric.checks.modified_loss",
    "mla_numeric.checks.amplification",
    "mla_numeric.checks.nqm",
    "mla_numeric.checks.worst_case",
    "mla_numeric.checks.conformance",
]


def _load(module: str) -> CheckGroup:
    checked: CheckGroup = importlib.import_module(module).GROUP
    return checked


def groups() -> dict[str, CheckGroup]:
    """{name: CheckGroup} for every module of ``MODULES``, in order."""
    return {checked.name: checked for checked in map(_load, MODULES)}


def group(name: str) -> CheckGroup:
    """The group called ``name``, or ValueError naming the choices."""
    known = groups()
    if name not in known:
        raise ValueError(f"unknown check group {name!r}; choose from {', '.join(known)}")
    return known[name]


def claims() -> dict[str, Claim]:
    """{claim id: Claim} over every group, in report order."""
    return {claim.id: claim for checked in groups().values() for claim in checked.claims}
