"""Typed, strictly validated loader for the skill-card catalogue (``cards.toml``).

Public API:

* :class:`Timer`, :class:`SkillCard`, :class:`Module`, :class:`Catalogue` - frozen value objects.
* :func:`load_catalogue` - read and validate a TOML file; raises :class:`CatalogueError` whose message
  names the file, the card (``#index 'id'``) and the field at fault.
* :func:`default_catalogue` - the bundled catalogue, loaded once and cached.
* :func:`catalogue_json` - compact JSON of a whole catalogue (offline cache, size figures).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn

__all__ = [
    "DEFAULT_PATH",
    "MODULE_IDS",
    "Catalogue",
    "CatalogueError",
    "Module",
    "SkillCard",
    "Timer",
    "catalogue_json",
    "default_catalogue",
    "load_catalogue",
]

DEFAULT_PATH = Path(__file__).with_name("cards.toml")
_PROJECT_ROOT = Path(__file__).resolve().parents[2]

#: Every module a card may belong to. ``[modules]`` in the TOML must list exactly these
#: (its order is the display order).
MODULE_IDS: tuple[str, ...] = (
    "distress-tolerance",
    "emotion-regulation",
    "interpersonal",
    "mindfulness",
    "relapse-prevention",
)

TimerKind = Literal["breath", "countdown"]

_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TAG_RE = _ID_RE
_USE_WHEN_PREFIX = "Use it when"

_MIN_STEPS, _MAX_STEPS = 3, 7
_MAX_TITLE = 80
_MAX_LINE = 200  # use_when, module summary
_MAX_STEP = 240  # one screen
_MAX_CAUTION = 300
_MAX_MINUTES = 120
_MAX_PHASE_SECONDS = 30
_MAX_CYCLES = 100
_MAX_COUNTDOWN = 3600

_REQUIRED_CARD_FIELDS = ("id", "title", "module", "use_when", "steps", "tags", "minutes")
_OPTIONAL_CARD_FIELDS = ("timer", "caution")
_TOP_LEVEL_KEYS = ("modules", "cards")
_MODULE_FIELDS = ("title", "summary")
_TIMER_FIELDS: dict[str, tuple[str, ...]] = {
    "breath": ("kind", "pattern", "cycles"),
    "countdown": ("kind", "seconds"),
}


class CatalogueError(ValueError):
    """The catalogue file is missing, not valid TOML, or breaks a rule.

    The message always starts with the file name, then says where (card index and id, or
    ``modules``) and which field is wrong.
    """


# --------------------------------------------------------------------------- value objects


@dataclass(frozen=True, slots=True)
class Timer:
    """A breathing pacer (``pattern`` = in, hold, out, hold seconds, repeated ``cycles`` times)
    or a plain countdown of ``seconds``."""

    kind: TimerKind
    pattern: tuple[int, int, int, int] | None = None
    cycles: int | None = None
    seconds: int | None = None

    @property
    def total_seconds(self) -> int:
        if self.kind == "breath":
            assert self.pattern is not None and self.cycles is not None
            return sum(self.pattern) * self.cycles
        assert self.seconds is not None
        return self.seconds

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "breath":
            return {"kind": self.kind, "pattern": list(self.pattern or ()), "cycles": self.cycles}
        return {"kind": self.kind, "seconds": self.seconds}


@dataclass(frozen=True, slots=True)
class SkillCard:
    id: str
    title: str
    module: str
    use_when: str
    steps: tuple[str, ...]
    tags: tuple[str, ...]
    minutes: int
    timer: Timer | None = None
    caution: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form; ``timer`` and ``caution`` are left out when absent."""
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "module": self.module,
            "use_when": self.use_when,
            "steps": list(self.steps),
            "tags": list(self.tags),
            "minutes": self.minutes,
        }
        if self.timer is not None:
            out["timer"] = self.timer.to_dict()
        if self.caution is not None:
            out["caution"] = self.caution
        return out


@dataclass(frozen=True, slots=True)
class Module:
    id: str
    title: str
    summary: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "summary": self.summary}


def _normalise(text: str) -> str:
    return " ".join(text.casefold().replace("-", " ").split())


@dataclass(frozen=True)
class Catalogue:
    """All skill cards, in file order, plus the ordered module table."""

    cards: tuple[SkillCard, ...]
    module_table: tuple[Module, ...] = ()
    source: str = "<memory>"
    _index: dict[str, SkillCard] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {card.id: card for card in self.cards})

    def __len__(self) -> int:
        return len(self.cards)

    def by_id(self, card_id: str) -> SkillCard | None:
        return self._index.get(card_id)

    def modules(self) -> list[Module]:
        """Modules in display order."""
        return list(self.module_table)

    def module(self, module_id: str) -> Module | None:
        return next((m for m in self.module_table if m.id == module_id), None)

    def cards_in(self, module_id: str) -> list[SkillCard]:
        return [card for card in self.cards if card.module == module_id]

    def search(self, query: str) -> list[SkillCard]:
        """Case-insensitive search over title, ``use_when`` and tags.

        Every word of the query must appear (as a substring; hyphens count as spaces).
        Title hits come first, then tag hits, then ``use_when`` hits; file order within each.
        A blank query returns every card.
        """
        words = _normalise(query).split()
        if not words:
            return list(self.cards)
        ranked: list[tuple[int, int, SkillCard]] = []
        for position, card in enumerate(self.cards):
            title = _normalise(card.title)
            tags = " ".join(_normalise(tag) for tag in card.tags)
            use_when = _normalise(card.use_when)
            haystack = f"{title}\n{tags}\n{use_when}"
            if not all(word in haystack for word in words):
                continue
            if all(word in title for word in words):
                rank = 0
            elif all(word in f"{title}\n{tags}" for word in words):
                rank = 1
            else:
                rank = 2
            ranked.append((rank, position, card))
        ranked.sort(key=lambda item: (item[0], item[1]))
        return [card for _, _, card in ranked]

    @property
    def digest(self) -> str:
        """Short content hash (changes whenever any card or module changes)."""
        return _digest(_payload(self))


# --------------------------------------------------------------------------- JSON


def _payload(catalogue: Catalogue) -> dict[str, Any]:
    return {
        "modules": [module.to_dict() for module in catalogue.module_table],
        "cards": [card.to_dict() for card in catalogue.cards],
    }


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(_dumps(payload)).hexdigest()[:16]


def catalogue_json(catalogue: Catalogue) -> bytes:
    """Compact UTF-8 JSON: ``{"digest": ..., "modules": [...], "cards": [...]}``."""
    payload = _payload(catalogue)
    return _dumps({"digest": _digest(payload), **payload})


# --------------------------------------------------------------------------- validation


def _display_path(path: Path) -> str:
    try:
        return path.resolve().relative_to(_PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Checker:
    def __init__(self, label: str) -> None:
        self.label = label
        self.where = ""

    def fail(self, message: str) -> NoReturn:
        prefix = f"{self.label}: {self.where}: " if self.where else f"{self.label}: "
        raise CatalogueError(prefix + message)

    def keys(
        self, table: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...], prefix: str = ""
    ) -> None:
        allowed = required + optional
        for key in table:
            if key not in allowed:
                self.fail(f"unknown field '{prefix}{key}' (allowed: {', '.join(allowed)})")
        for key in required:
            if key not in table:
                self.fail(f"missing field '{prefix}{key}'")

    def text(self, value: object, name: str, max_len: int) -> str:
        if not isinstance(value, str):
            self.fail(f"{name} must be a string, not {type(value).__name__}")
        if not value.strip():
            self.fail(f"{name} must not be empty")
        if value != value.strip():
            self.fail(f"{name} must not start or end with spaces")
        if "\n" in value or "\r" in value:
            self.fail(f"{name} must be a single line")
        if len(value) > max_len:
            self.fail(f"{name} is too long ({len(value)} characters, at most {max_len})")
        return value

    def modules(self, raw: object) -> tuple[Module, ...]:
        self.where = "[modules]"
        if not isinstance(raw, dict):
            self.fail("must be a table of module id -> { title, summary }")
        for module_id in raw:
            if module_id not in MODULE_IDS:
                self.fail(f"unknown module '{module_id}' (allowed: {', '.join(MODULE_IDS)})")
        for module_id in MODULE_IDS:
            if module_id not in raw:
                self.fail(f"missing module '{module_id}'")
        modules = []
        for module_id, table in raw.items():
            self.where = f"module '{module_id}'"
            if not isinstance(table, dict):
                self.fail("must be a table with title and summary")
            self.keys(table, _MODULE_FIELDS, ())
            modules.append(
                Module(
                    id=module_id,
                    title=self.text(table["title"], "title", _MAX_TITLE),
                    summary=self.text(table["summary"], "summary", _MAX_LINE),
                )
            )
        self.where = ""
        return tuple(modules)

    def timer(self, raw: object) -> Timer:
        if not isinstance(raw, dict):
            self.fail('timer must be a table like { kind = "countdown", seconds = 60 }')
        kind = raw.get("kind")
        if kind not in _TIMER_FIELDS:
            self.fail(f"timer.kind must be one of {', '.join(map(repr, _TIMER_FIELDS))}, not {kind!r}")
        self.keys(raw, _TIMER_FIELDS[kind], (), prefix="timer.")
        if kind == "breath":
            pattern = raw["pattern"]
            if not isinstance(pattern, list) or len(pattern) != 4 or not all(_is_int(p) and p >= 0 for p in pattern):
                self.fail("timer.pattern must be 4 non-negative integers [in, hold, out, hold]")
            if pattern[0] == 0 or pattern[2] == 0:
                self.fail("timer.pattern must have in and out phases longer than 0 seconds")
            if max(pattern) > _MAX_PHASE_SECONDS:
                self.fail(f"timer.pattern phases must be at most {_MAX_PHASE_SECONDS} seconds")
            cycles = raw["cycles"]
            if not _is_int(cycles) or not 1 <= cycles <= _MAX_CYCLES:
                self.fail(f"timer.cycles must be an integer from 1 to {_MAX_CYCLES}")
            return Timer(kind="breath", pattern=(pattern[0], pattern[1], pattern[2], pattern[3]), cycles=cycles)
        seconds = raw["seconds"]
        if not _is_int(seconds) or not 1 <= seconds <= _MAX_COUNTDOWN:
            self.fail(f"timer.seconds must be an integer from 1 to {_MAX_COUNTDOWN}")
        return Timer(kind="countdown", seconds=seconds)

    def card(self, number: int, raw: object, module_ids: set[str]) -> SkillCard:
        self.where = f"card #{number}"
        if not isinstance(raw, dict):
            self.fail("must be a table ([[cards]])")
        card_id = raw.get("id")
        if isinstance(card_id, str) and card_id:
            self.where = f"card #{number} '{card_id}'"
        self.keys(raw, _REQUIRED_CARD_FIELDS, _OPTIONAL_CARD_FIELDS)

        if not isinstance(card_id, str) or not _ID_RE.match(card_id):
            self.fail(f"id must be kebab-case (lowercase letters, digits and hyphens), not {card_id!r}")
        title = self.text(raw["title"], "title", _MAX_TITLE)

        module = raw["module"]
        if not isinstance(module, str) or module not in module_ids:
            self.fail(f"module {module!r} is unknown (allowed: {', '.join(MODULE_IDS)})")

        use_when = self.text(raw["use_when"], "use_when", _MAX_LINE)
        if not use_when.startswith(_USE_WHEN_PREFIX):
            self.fail(f"use_when must start with '{_USE_WHEN_PREFIX}'")

        steps_raw = raw["steps"]
        if not isinstance(steps_raw, list):
            self.fail("steps must be a list of strings")
        if not steps_raw:
            self.fail("steps must not be empty")
        if not _MIN_STEPS <= len(steps_raw) <= _MAX_STEPS:
            self.fail(f"steps must have {_MIN_STEPS} to {_MAX_STEPS} items, not {len(steps_raw)}")
        steps = tuple(self.text(step, f"steps[{i}]", _MAX_STEP) for i, step in enumerate(steps_raw))

        tags_raw = raw["tags"]
        if not isinstance(tags_raw, list) or not tags_raw:
            self.fail("tags must be a non-empty list of lowercase words")
        for i, tag in enumerate(tags_raw):
            if not isinstance(tag, str) or not _TAG_RE.match(tag):
                self.fail(f"tags[{i}] must be a lowercase word (a-z, 0-9, hyphens), not {tag!r}")
        if len(set(tags_raw)) != len(tags_raw):
            self.fail("tags must not repeat")

        minutes = raw["minutes"]
        if not _is_int(minutes) or not 1 <= minutes <= _MAX_MINUTES:
            self.fail(f"minutes must be an integer from 1 to {_MAX_MINUTES}")

        timer = self.timer(raw["timer"]) if "timer" in raw else None
        caution = self.text(raw["caution"], "caution", _MAX_CAUTION) if "caution" in raw else None

        card = SkillCard(
            id=card_id,
            title=title,
            module=module,
            use_when=use_when,
            steps=steps,
            tags=tuple(tags_raw),
            minutes=minutes,
            timer=timer,
            caution=caution,
        )
        self.where = ""
        return card


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and validate a catalogue file (default: the bundled ``cards.toml``).

    Raises :class:`CatalogueError` on the first problem found.
    """
    path = DEFAULT_PATH if path is None else Path(path)
    check = _Checker(_display_path(path))
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        check.fail(f"cannot read file: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        check.fail(f"file is not valid UTF-8: {exc}")
    except tomllib.TOMLDecodeError as exc:
        check.fail(f"invalid TOML: {exc}")

    for key in data:
        if key not in _TOP_LEVEL_KEYS:
            check.fail(f"unknown top-level key '{key}' (allowed: {', '.join(_TOP_LEVEL_KEYS)})")
    if "modules" not in data:
        check.fail("missing [modules] table")
    if "cards" not in data:
        check.fail("missing [[cards]]")

    modules = check.modules(data["modules"])
    module_ids = {module.id for module in modules}

    raw_cards = data["cards"]
    if not isinstance(raw_cards, list) or not raw_cards:
        check.fail("cards must be a non-empty array of tables ([[cards]])")

    cards: list[SkillCard] = []
    first_seen: dict[str, int] = {}
    for number, raw in enumerate(raw_cards, start=1):
        card = check.card(number, raw, module_ids)
        if card.id in first_seen:
            check.where = f"card #{number} '{card.id}'"
            check.fail(f"id: duplicate id '{card.id}' (already used by card #{first_seen[card.id]})")
        first_seen[card.id] = number
        cards.append(card)

    used = {card.module for card in cards}
    for module in modules:
        if module.id not in used:
            check.where = f"module '{module.id}'"
            check.fail("has no cards")

    return Catalogue(cards=tuple(cards), module_table=modules, source=check.label)


@functools.lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """The bundled catalogue, validated once per process."""
    return load_catalogue()
