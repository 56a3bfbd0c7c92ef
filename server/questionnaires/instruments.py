"""The standard questionnaires, read from the data files in `instruments/` (one TOML file per instrument: source,
licence, where each language's text comes from, items as published, options, scoring, bands, flags, reliable
change). Loading is strict: a missing field, an unknown option set or a text without its Spanish stops start-up
with the file and the field named (`InstrumentError`), so a half-translated instrument can never be shown.

Item texts are not in the gettext catalogue: a validated instrument keeps its published wording in each language,
so both languages live in the data file next to the source of each (`Text`). The Spanish gate
(tests/test_i18n_gate.py) checks them with the rest.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.i18n import current_locale

__all__ = [
    "Instrument",
    "InstrumentError",
    "Item",
    "Option",
    "Text",
    "all_instruments",
    "get_instrument",
    "load_instrument",
]

DIRECTORY = Path(__file__).with_name("instruments")
LANGUAGES = ("en", "es")
CODES = ("phq9", "gad7", "bam_iop")  # display order


class InstrumentError(ValueError):
    """An instrument file breaks a rule; the message names the file and the field."""


@dataclass(frozen=True)
class Text:
    """One text in every language the app speaks, shown in the reader's."""

    en: str
    es: str

    def __str__(self) -> str:
        return self.es if current_locale.get() == "es" else self.en

    def get(self, locale: str) -> str:
        return self.es if locale == "es" else self.en


@dataclass(frozen=True)
class Option:
    value: int
    text: Text


@dataclass(frozen=True)
class Item:
    id: str
    text: Text
    options: tuple[Option, ...]
    scored: bool = True
    optional: bool = False
    ask_if_above: tuple[str, int] | None = None  # asked only when that item's answer is above the value

    @property
    def values(self) -> frozenset[int]:
        return frozenset(o.value for o in self.options)

    def option_text(self, value: int | None) -> str:
        for option in self.options:
            if option.value == value:
                return str(option.text)
        return ""


@dataclass(frozen=True)
class Band:
    key: str
    min: int
    max: int


@dataclass(frozen=True)
class Subscale:
    key: str
    items: tuple[str, ...]
    max: int
    flag_at_least: int | None = None
    flag_at_most: int | None = None


@dataclass(frozen=True)
class ReliableChange:
    """Jacobson & Truax (1991): a change is reliable when |difference| > 1.96 × SD × √(2 × (1 − r))."""

    reliability: float
    sd: float

    @property
    def threshold(self) -> int:
        """The smallest whole-point change that is reliable."""
        exact = 1.96 * self.sd * math.sqrt(2 * (1 - self.reliability))
        return math.floor(exact) + 1

    def index(self, difference: int) -> float:
        return difference / (self.sd * math.sqrt(2 * (1 - self.reliability)))


@dataclass(frozen=True)
class Instrument:
    code: str
    short_name: str
    version: int
    source: str
    licence: str
    text_source: Text
    name: Text
    stem: Text
    minutes: int
    items: tuple[Item, ...]
    method: str  # 'sum' or 'subscales'
    max: int = 0
    bands: tuple[Band, ...] = ()
    flag_at_least: int | None = None
    response_drop: int | None = None
    closer_look: int | None = None
    subscales: tuple[Subscale, ...] = ()
    reliable_change: ReliableChange | None = None
    safety_item: str | None = None

    def item(self, item_id: str) -> Item | None:
        for item in self.items:
            if item.id == item_id:
                return item
        return None

    def asked(self, answers: Mapping[str, int]) -> list[Item]:
        """The items this person is asked, given what they answered so far (BAM item 7 only after use)."""
        shown = []
        for item in self.items:
            if item.ask_if_above is not None:
                other, above = item.ask_if_above
                if answers.get(other) is None or answers[other] <= above:
                    continue
            shown.append(item)
        return shown

    def missing(self, answers: Mapping[str, int]) -> list[Item]:
        return [i for i in self.asked(answers) if not i.optional and answers.get(i.id) is None]

    def clean(self, answers: Mapping[str, int]) -> dict[str, int]:
        """Only answers to items that are asked, with allowed values (a change of item 6 to 0 drops 7A-G)."""
        asked = {i.id: i for i in self.asked(answers)}
        return {k: v for k, v in answers.items() if k in asked and v in asked[k].values}

    def band(self, total: int) -> Band | None:
        for band in self.bands:
            if band.min <= total <= band.max:
                return band
        return None


def _fail(path: Path, where: str, message: str) -> InstrumentError:
    return InstrumentError(f"{path.name}: {where}: {message}")


def _text(path: Path, where: str, raw: Any) -> Text:
    if not isinstance(raw, Mapping):
        raise _fail(path, where, "needs an 'en' and an 'es' text")
    values = {}
    for lang in LANGUAGES:
        value = raw.get(lang)
        if not isinstance(value, str) or not value.strip():
            raise _fail(path, where, f"the {lang!r} text is missing or empty")
        values[lang] = value.strip()
    return Text(**values)


def _int(path: Path, where: str, raw: Any) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise _fail(path, where, "must be a whole number")
    return raw


def _option_sets(path: Path, data: dict[str, Any]) -> dict[str, tuple[Option, ...]]:
    option_sets: dict[str, tuple[Option, ...]] = {}
    for name, raw in (data.get("option_sets") or {}).items():
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise _fail(path, f"option_sets.{name}.values", "is required")
        texts = {lang: raw.get(lang) for lang in LANGUAGES}
        for lang, labels in texts.items():
            if (
                not isinstance(labels, list)
                or len(labels) != len(values)
                or not all(isinstance(t, str) and t.strip() for t in labels)
            ):
                raise _fail(path, f"option_sets.{name}.{lang}", "needs one text for each value")
        option_sets[name] = tuple(
            Option(_int(path, f"option_sets.{name}.values", v), Text(en=texts["en"][i], es=texts["es"][i]))
            for i, v in enumerate(values)
        )
    return option_sets


def _items(path: Path, data: dict[str, Any], option_sets: dict[str, tuple[Option, ...]]) -> list[Item]:
    items: list[Item] = []
    seen: set[str] = set()
    for index, raw in enumerate(data.get("items") or []):
        item_id = raw.get("id")
        where = f"items[{index}]"
        if not isinstance(item_id, str) or not item_id or item_id in seen:
            raise _fail(path, where + ".id", "must be a unique text")
        seen.add(item_id)
        options = option_sets.get(raw.get("options", ""))
        if options is None:
            raise _fail(path, f"{where} '{item_id}'.options", "names no option set")
        condition = raw.get("ask_if_above")
        ask_if = None
        if condition is not None:
            if condition.get("item") not in seen:
                raise _fail(path, f"{where} '{item_id}'.ask_if_above", "must name an earlier item")
            ask_if = (condition["item"], _int(path, f"{where}.ask_if_above.value", condition.get("value")))
        items.append(
            Item(
                id=item_id,
                text=_text(path, f"{where} '{item_id}'", raw),
                options=options,
                scored=bool(raw.get("scored", True)),
                optional=bool(raw.get("optional", False)),
                ask_if_above=ask_if,
            )
        )
    if not items:
        raise _fail(path, "items", "at least one item is required")
    return items


def _scoring(
    path: Path, scoring: dict[str, Any], items: list[Item]
) -> tuple[str, int, tuple[Band, ...], tuple[Subscale, ...]]:
    """(method, the scored items' highest total, bands, subscales), checked against the items."""
    seen = {i.id for i in items}
    method = scoring.get("method")
    if method not in ("sum", "subscales"):
        raise _fail(path, "scoring.method", "must be 'sum' or 'subscales'")
    bands = tuple(
        Band(str(b["key"]), _int(path, "scoring.bands", b["min"]), _int(path, "scoring.bands", b["max"]))
        for b in scoring.get("bands") or []
    )
    subscales = tuple(
        Subscale(
            key=str(s["key"]),
            items=tuple(s["items"]),
            max=_int(path, "scoring.subscales.max", s["max"]),
            flag_at_least=s.get("flag_at_least"),
            flag_at_most=s.get("flag_at_most"),
        )
        for s in scoring.get("subscales") or []
    )
    for sub in subscales:
        for item_id in sub.items:
            if item_id not in seen:
                raise _fail(path, f"scoring.subscales.{sub.key}", f"names unknown item {item_id!r}")
    scored_max = sum(max(i.values) for i in items if i.scored)
    if method == "sum":
        if scoring.get("max") != scored_max:
            raise _fail(path, "scoring.max", f"must be {scored_max}, the sum of the scored items' highest values")
        covered = [v for b in bands for v in range(b.min, b.max + 1)]
        if sorted(covered) != list(range(0, scored_max + 1)):
            raise _fail(path, "scoring.bands", f"must cover 0-{scored_max} once each")
    return method, scored_max, bands, subscales


def load_instrument(path: Path) -> Instrument:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InstrumentError(f"{path.name}: {exc}") from exc
    for key in ("code", "short_name", "source", "licence"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise _fail(path, key, "is required")
    items = _items(path, data, _option_sets(path, data))
    scoring = data.get("scoring") or {}
    method, scored_max, bands, subscales = _scoring(path, scoring, items)
    rc = data.get("reliable_change")
    safety = data.get("safety_item")
    if safety is not None and safety not in {i.id for i in items}:
        raise _fail(path, "safety_item", "names no item")
    return Instrument(
        code=data["code"],
        short_name=data["short_name"],
        version=_int(path, "version", data.get("version", 1)),
        source=" ".join(data["source"].split()),
        licence=" ".join(data["licence"].split()),
        text_source=_text(path, "text_source", data.get("text_source")),
        name=_text(path, "name", data.get("name")),
        stem=_text(path, "stem", data.get("stem")),
        minutes=_int(path, "minutes", data.get("minutes", 2)),
        items=tuple(items),
        method=method,
        max=scored_max if method == "sum" else 0,
        bands=bands,
        flag_at_least=scoring.get("flag_at_least"),
        response_drop=scoring.get("response_drop"),
        closer_look=scoring.get("closer_look"),
        subscales=subscales,
        reliable_change=ReliableChange(float(rc["reliability"]), float(rc["sd"])) if rc else None,
        safety_item=safety,
    )


@functools.cache
def all_instruments() -> dict[str, Instrument]:
    found = {}
    for code in CODES:
        instrument = load_instrument(DIRECTORY / f"{code}.toml")
        if instrument.code != code:
            raise InstrumentError(f"{code}.toml: code: must be {code!r}")
        found[code] = instrument
    return found


def get_instrument(code: str) -> Instrument | None:
    return all_instruments().get(code)
