"""Scoring: pure functions over an instrument (server/questionnaires/instruments/*.toml) and a person's answers.

* `score(instrument, answers)` → `Score`: the total and its band (PHQ-9, GAD-7), or the BAM's Use / Risk /
  Protective sub-scores (no total), and whether the safety item (PHQ-9 item 9) was answered above 0.
* `flags(score, thresholds)` → the dashboard flags, with the clinic's thresholds (`Thresholds`, admin-adjustable;
  the item-9 flag is not adjustable).
* `compare(instrument, previous, current)` → `Change`: the difference, whether it is a reliable change
  (Jacobson–Truax, with the reliability and SD recorded in the data file) and, for the PHQ-9, whether a drop is
  large enough to count as a response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from server.questionnaires.instruments import Instrument

__all__ = ["LIMITS", "Change", "Score", "Thresholds", "compare", "flags", "score"]


class IncompleteAnswers(ValueError):
    """Not every asked item has an allowed answer."""


@dataclass(frozen=True)
class Score:
    code: str
    total: int | None = None
    band: str | None = None
    subscales: dict[str, int] = field(default_factory=dict)
    safety: bool = False  # the safety item (PHQ-9 item 9) above 0

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "band": self.band, "subscales": dict(self.subscales), "safety": self.safety}

    @classmethod
    def from_json(cls, code: str, data: Mapping[str, Any] | None) -> Score:
        data = data or {}
        return cls(
            code=code,
            total=data.get("total"),
            band=data.get("band"),
            subscales=dict(data.get("subscales") or {}),
            safety=bool(data.get("safety")),
        )


def score(instrument: Instrument, answers: Mapping[str, int]) -> Score:
    answers = instrument.clean(answers)
    missing = instrument.missing(answers)
    if missing:
        raise IncompleteAnswers(", ".join(i.id for i in missing))
    safety = bool(instrument.safety_item and answers.get(instrument.safety_item, 0) > 0)
    if instrument.method == "sum":
        total = sum(answers[i.id] for i in instrument.items if i.scored)
        band = instrument.band(total)
        return Score(instrument.code, total=total, band=band.key if band else None, safety=safety)
    subscales = {s.key: sum(answers.get(item_id, 0) for item_id in s.items) for s in instrument.subscales}
    return Score(instrument.code, subscales=subscales, safety=safety)


# -- flags ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """Dashboard flag thresholds, in `Clinic.settings["questionnaire_thresholds"]`."""

    phq9_total: int = 15  # PHQ-9 total at or above
    gad7_total: int = 15  # GAD-7 total at or above
    bam_use: int = 1  # BAM Use at or above
    bam_risk: int = 12  # BAM Risk at or above
    bam_protective: int = 12  # BAM Protective at or below

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> Thresholds:
        stored = (settings or {}).get("questionnaire_thresholds") or {}
        values: dict[str, int] = {}
        for f in fields(cls):
            raw = stored.get(f.name) if isinstance(stored, dict) else None
            low, high = LIMITS[f.name]
            if isinstance(raw, int) and not isinstance(raw, bool) and low <= raw <= high:
                values[f.name] = raw
        return cls(**values)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


LIMITS: dict[str, tuple[int, int]] = {
    "phq9_total": (1, 27),
    "gad7_total": (1, 21),
    "bam_use": (1, 12),
    "bam_risk": (1, 24),
    "bam_protective": (0, 23),
}

FLAG_KEYS = ("item9", "phq9_high", "gad7_high", "bam_use", "bam_risk", "bam_protective")


def flags(result: Score, thresholds: Thresholds | None = None) -> list[str]:
    t = thresholds or Thresholds()
    found: list[str] = []
    if result.safety:
        found.append("item9")
    if result.code == "phq9" and result.total is not None and result.total >= t.phq9_total:
        found.append("phq9_high")
    if result.code == "gad7" and result.total is not None and result.total >= t.gad7_total:
        found.append("gad7_high")
    if result.code == "bam_iop":
        sub = result.subscales
        if sub.get("use", 0) >= t.bam_use:
            found.append("bam_use")
        if sub.get("risk", 0) >= t.bam_risk:
            found.append("bam_risk")
        if "protective" in sub and sub["protective"] <= t.bam_protective:
            found.append("bam_protective")
    return found


# -- change -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    previous: int
    current: int
    threshold: int | None  # points for a reliable change (None: the instrument has no reliable-change data)
    response_drop: int | None

    @property
    def difference(self) -> int:
        return self.current - self.previous

    @property
    def reliable(self) -> bool:
        return self.threshold is not None and abs(self.difference) >= self.threshold

    @property
    def direction(self) -> str:
        """'better', 'worse' or 'same' (lower is better on the PHQ-9 and GAD-7); 'same' unless reliable."""
        if not self.reliable:
            return "same"
        return "better" if self.difference < 0 else "worse"

    @property
    def response(self) -> bool:
        return self.response_drop is not None and -self.difference >= self.response_drop


def compare(instrument: Instrument, previous: Score | None, current: Score) -> Change | None:
    if previous is None or previous.total is None or current.total is None:
        return None
    rc = instrument.reliable_change
    return Change(
        previous=previous.total,
        current=current.total,
        threshold=rc.threshold if rc else None,
        response_drop=instrument.response_drop,
    )
