"""The result type shared by every claim check and its JSON form."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from .._typing import JSON
from .stats import KINDS, equality_verdict

__all__ = ["CheckResult", "Control", "Resolution", "VERDICTS", "Interval", "equality_control",
           "relative_resolution", "setting_text", "verdict_row"]

Interval: TypeAlias = tuple[float | None, float | None]
"""(low, high) of a confidence interval; (None, None) where nothing was measured."""

VERDICTS = ("holds", "fails", "inconclusive")


@dataclass(frozen=True)
class Control:
    """A matched control: in the same setting and run, the measurement judged against a claim (or
    a premise) that is false there. ``verdict`` is its verdict under the claim's rule: the control
    is rejected, and so shows that the check has power, when it is "fails"."""

    description: str
    predicted: float | None
    measured: float | None
    interval: Interval
    verdict: str

    @property
    def rejected(self) -> bool:
        return self.verdict == "fails"

    def to_dict(self) -> JSON:
        return {"description": self.description, "predicted": _finite(self.predicted),
                "measured": _finite(self.measured), "interval": [_finite(v) for v in self.interval],
                "verdict": self.verdict, "rejected": self.rejected}


def equality_control(description: str, predicted: float, measured: float, interval: tuple[float, float]) -> Control:
    """A control of an equality claim: the false ``predicted`` value judged against the interval."""
    return Control(description, predicted, measured, interval, equality_verdict(predicted, *interval))


@dataclass(frozen=True)
class Resolution:
    """How fine the check is: the smallest deviation of ``quantity`` it detects in this run."""

    quantity: str
    value: float

    def to_dict(self) -> JSON:
        return {"quantity": self.quantity, "value": _finite(self.value)}


@dataclass
class CheckResult:
    """One claim checked in one setting.

    ``predicted`` is the theory's value or bound, ``measured`` the estimate and ``interval`` its
    confidence interval; ``kind`` names the verdict rule of ``stats`` that decided ``verdict``.
    ``figures`` and ``data`` name files of the check group's folder (written by the report layer).

    A "holds" stands only if every matched ``control`` was rejected in the same run; otherwise it
    becomes "inconclusive" and ``note`` says why. ``resolution`` says how fine the check is.
    """

    claim: str
    statement: str
    source: str
    setting: dict[str, Any]
    predicted: float | None
    kind: str
    measured: float | None
    interval: Interval
    verdict: str
    control: list[Control] = field(default_factory=list)
    resolution: Resolution | None = None
    note: str = ""
    figures: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.verdict == "holds" and not self.control:
            self.verdict, self.note = "inconclusive", "no matched control was run"
        elif self.verdict == "holds" and not all(control.rejected for control in self.control):
            kept = [control.description for control in self.control if not control.rejected]
            self.verdict = "inconclusive"
            self.note = f"no power in this setting: the control ({'; '.join(kept)}) was not rejected"

    def to_dict(self, folder: str | None = None) -> JSON:
        """JSON-ready; file names prefixed with ``folder/`` if given."""
        def path(name: str) -> str:
            return str(name) if folder is None else f"{folder}/{name}"

        return {"claim": self.claim, "statement": self.statement, "source": self.source,
                "setting": self.setting, "predicted": _finite(self.predicted), "kind": self.kind,
                "measured": _finite(self.measured), "interval": [_finite(v) for v in self.interval],
                "verdict": self.verdict, "note": self.note,
                "control": [control.to_dict() for control in self.control],
                "resolution": None if self.resolution is None else self.resolution.to_dict(),
                "figures": [path(p) for p in self.figures],
                "data": [path(p) for p in self.data]}


def relative_resolution(quantity: str, reference: float, interval: tuple[float, float]) -> Resolution:
    """The interval's full width relative to ``reference``: a prediction that far from the truth is
    rejected whenever the interval covers the truth."""
    low, high = interval
    return Resolution(f"relative error of {quantity}", float((high - low) / abs(reference)))


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


SETTING_KEYS = ("implementation", "objective", "oracle", "layers", "cycles_per_epoch", "pair", "coefficient",
                "framing")


def setting_text(setting: dict[str, Any]) -> str:
    """The setting of a check in a few words: objective, oracle, layers, N, pair, coefficient, framing."""
    words = [f"N={value}" if key == "cycles_per_epoch" else str(value)
             for key, value in ((key, setting.get(key)) for key in SETTING_KEYS) if value not in (None, "")]
    return " ".join(words)


def _cell(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _digits(value: float | None, low: float | None, high: float | None) -> int:
    """Significant digits that show ``value`` as finely as its interval resolves it (4 to 12)."""
    if value is None or low is None or high is None or high <= low or value == 0:
        return 4
    return int(min(12, max(4, math.ceil(math.log10(abs(value) / (high - low))) + 2)))


def _interval_cell(value: float | None, low: float | None, high: float | None, digits: int) -> str:
    """"+- half-width" for an interval centred on the value, else "[low, high]"."""
    if low is None or high is None:
        return "-"
    half = (high - low) / 2
    if value is not None and half > 0 and abs(value - (low + high) / 2) <= 1e-6 * half:
        return f"± {half:.2g}"
    return f"[{_cell(low, digits)}, {_cell(high, digits)}]"


def _verdict_cell(check: JSON) -> str:
    """The verdict; where a row checks a claim on top of a measured prediction (C5), both."""
    prediction = check["setting"].get("prediction_verdict")
    return str(check["verdict"]) if prediction is None else f"{check['verdict']} (pred. {prediction})"


def verdict_row(check: JSON) -> dict[str, str]:
    """The table cells of one check (its ``to_dict()`` form) as short strings; the source is cut
    after its first parenthesis, e.g. "Smith et al. (2021)"."""
    low, high = check["interval"]
    cited = re.match(r"[^()]*\([^)]*\)", check["source"])
    controls = check["control"]
    resolution = check["resolution"]
    digits = _digits(check["measured"], low, high)
    return {"claim": check["claim"], "source": cited.group(0) if cited else check["source"],
            "setting": setting_text(check["setting"]),
            "predicted": _cell(check["predicted"], digits), "measured": _cell(check["measured"], digits),
            "interval": _interval_cell(check["measured"], low, high, digits), "verdict": _verdict_cell(check),
            "control": "-" if not controls or check["verdict"] == "fails"
            else "rejected" if all(c["rejected"] for c in controls) else "kept",
            "resolution": "-" if resolution is None or resolution["value"] is None else f"{resolution['value']:.2g}",
            "figure": check["figures"][0] if check["figures"] else "-"}
