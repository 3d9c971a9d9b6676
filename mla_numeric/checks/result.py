"""The result type shared by every claim check (C1..C6) and its JSON form."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["CheckResult", "VERDICTS", "KINDS"]

VERDICTS = ("holds", "fails", "inconclusive")
KINDS = ("tight", "upper_bound", "lower_bound")


@dataclass
class CheckResult:
    """One claim checked in one setting.

    ``predicted`` is the theory's value (``kind="tight"``) or a bound on the measurement
    (``kind="upper_bound"``: measured <= predicted; ``"lower_bound"``: measured >= predicted);
    ``measured`` the simulation's estimate and ``interval`` its confidence interval.
    """

    claim: str
    statement: str
    source: str
    setting: dict
    predicted: float | None
    kind: str
    measured: float
    interval: tuple
    verdict: str
    figures: list = field(default_factory=list)
    data: list = field(default_factory=list)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")

    def to_dict(self) -> dict:
        return {"claim": self.claim, "statement": self.statement, "source": self.source,
                "setting": self.setting, "predicted": _finite(self.predicted), "kind": self.kind,
                "measured": _finite(self.measured), "interval": [_finite(v) for v in self.interval],
                "verdict": self.verdict, "figures": [str(p) for p in self.figures],
                "data": [str(p) for p in self.data]}


def _finite(value):
    return None if value is None or not math.isfinite(value) else float(value)
