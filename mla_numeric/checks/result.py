"""The result type shared by every claim check and its JSON form."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .stats import KINDS

__all__ = ["CheckResult", "VERDICTS", "setting_text", "verdict_row"]

VERDICTS = ("holds", "fails", "inconclusive")


@dataclass
class CheckResult:
    """One claim checked in one setting.

    ``predicted`` is the theory's value or bound, ``measured`` the estimate and ``interval`` its
    confidence interval; ``kind`` names the verdict rule of ``stats`` that decided ``verdict``.
    ``figures`` and ``data`` name files of the check group's folder (written by the report layer).
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

    def to_dict(self, folder: str | None = None) -> dict:
        """JSON-ready; file names prefixed with ``folder/`` if given."""
        def path(name):
            return str(name) if folder is None else f"{folder}/{name}"

        return {"claim": self.claim, "statement": self.statement, "source": self.source,
                "setting": self.setting, "predicted": _finite(self.predicted), "kind": self.kind,
                "measured": _finite(self.measured), "interval": [_finite(v) for v in self.interval],
                "verdict": self.verdict, "figures": [path(p) for p in self.figures],
                "data": [path(p) for p in self.data]}


def _finite(value):
    return None if value is None or not math.isfinite(value) else float(value)


SETTING_KEYS = ("objective", "oracle", "layers", "cycles_per_epoch", "pair", "coefficient", "framing")


def setting_text(setting: dict) -> str:
    """The setting of a check in a few words: objective, oracle, layers, N, pair, coefficient, framing."""
    words = [f"N={value}" if key == "cycles_per_epoch" else str(value)
             for key, value in ((key, setting.get(key)) for key in SETTING_KEYS) if value not in (None, "")]
    return " ".join(words)


def _cell(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def verdict_row(check: dict) -> dict:
    """The table cells of one check (its ``to_dict()`` form) as short strings; the source is cut
    after its first parenthesis, e.g. "Smith et al. (2021)"."""
    low, high = check["interval"]
    cited = re.match(r"[^()]*\([^)]*\)", check["source"])
    return {"claim": check["claim"], "source": cited.group(0) if cited else check["source"],
            "setting": setting_text(check["setting"]),
            "predicted": _cell(check["predicted"]), "measured": _cell(check["measured"]),
            "interval": "-" if low is None else f"[{_cell(low)}, {_cell(high)}]", "verdict": check["verdict"],
            "figure": check["figures"][0] if check["figures"] else "-"}
