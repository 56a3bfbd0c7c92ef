"""Flag thresholds: clinic settings (`Clinic.settings["flag_thresholds"]`) with sensible defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from pydantic import BaseModel, Field

from server.accounts.models import Clinic


@dataclass(frozen=True)
class Thresholds:
    no_checkin_days: int = 3  # no check-in for this many days in a row
    craving_level: int = 8  # a craving this strong (0–10)…
    craving_days: int = 2  # …on this many days
    use_days: int = 1  # days with any use
    self_harm_urge: int = 4  # diary-card urge to self-harm (0–5)
    missed_groups: int = 2  # groups marked missed
    mood_drop: int = 3  # weekly mood average down this many points from the week before

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None) -> Thresholds:
        """The clinic's values, falling back to the defaults for anything missing or out of range."""
        stored = (settings or {}).get("flag_thresholds") or {}
        values: dict[str, int] = {}
        for f in fields(cls):
            raw = stored.get(f.name) if isinstance(stored, dict) else None
            if isinstance(raw, int) and not isinstance(raw, bool) and LIMITS[f.name][0] <= raw <= LIMITS[f.name][1]:
                values[f.name] = raw
        return cls(**values)

    @classmethod
    def for_clinic(cls, clinic: Clinic | None) -> Thresholds:
        return cls.from_settings(clinic.settings if clinic is not None else None)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


LIMITS: dict[str, tuple[int, int]] = {
    "no_checkin_days": (1, 7),
    "craving_level": (1, 10),
    "craving_days": (1, 7),
    "use_days": (1, 7),
    "self_harm_urge": (1, 5),
    "missed_groups": (1, 14),
    "mood_drop": (1, 10),
}


class ThresholdsForm(BaseModel):
    no_checkin_days: int = Field(ge=1, le=7)
    craving_level: int = Field(ge=1, le=10)
    craving_days: int = Field(ge=1, le=7)
    use_days: int = Field(ge=1, le=7)
    self_harm_urge: int = Field(ge=1, le=5)
    missed_groups: int = Field(ge=1, le=14)
    mood_drop: int = Field(ge=1, le=10)
