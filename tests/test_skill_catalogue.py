"""The skill-card catalogue: the real file is complete and valid; broken files fail loudly."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from server.skills.catalogue import (
    MODULE_IDS,
    Catalogue,
    CatalogueError,
    SkillCard,
    catalogue_json,
    default_catalogue,
    load_catalogue,
)

REQUIRED_IDS = {
    # distress tolerance
    "stop", "tipp", "paced-breathing", "accepts", "improve", "self-soothe", "pros-and-cons",
    "radical-acceptance", "turning-the-mind", "willingness", "half-smiling", "willing-hands",
    # emotion regulation
    "check-the-facts", "opposite-action", "problem-solving", "please",
    "accumulate-positives", "build-mastery", "cope-ahead",
    # interpersonal effectiveness
    "dear-man", "give", "fast",
    # mindfulness
    "wise-mind", "observe", "describe", "participate", "one-mindfully", "non-judgmentally",
    "box-breathing", "breathing-4-7-8", "grounding-5-4-3-2-1", "body-scan", "leaves-on-a-stream",
    "loving-kindness",
    # relapse prevention and recovery
    "urge-surfing", "play-the-tape-through", "halt-check", "delay-and-distract", "call-someone",
    "cope-ahead-high-risk", "gratitude-list", "values-check", "dialectical-abstinence",
    "alternate-rebellion", "adaptive-denial", "burning-bridges", "community-reinforcement",
}  # fmt: skip

KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


# --------------------------------------------------------------------------- the real catalogue


def test_real_catalogue_loads(catalogue: Catalogue) -> None:
    assert len(catalogue.cards) >= 40
    assert all(isinstance(card, SkillCard) for card in catalogue.cards)
    assert catalogue.source == "server/skills/cards.toml"


def test_default_catalogue_is_cached() -> None:
    assert default_catalogue() is default_catalogue()
    assert default_catalogue() == load_catalogue()


def test_every_required_skill_is_present(catalogue: Catalogue) -> None:
    ids = {card.id for card in catalogue.cards}
    assert REQUIRED_IDS - ids == set()
    for card_id in ("stop", "tipp", "urge-surfing"):
        card = catalogue.by_id(card_id)
        assert card is not None and card.id == card_id


def test_ids_are_unique_and_kebab_case(catalogue: Catalogue) -> None:
    ids = [card.id for card in catalogue.cards]
    assert len(ids) == len(set(ids))
    assert all(KEBAB.match(card_id) for card_id in ids)
    assert catalogue.by_id("no-such-card") is None


def test_modules_are_ordered_titled_and_all_have_cards(catalogue: Catalogue) -> None:
    modules = catalogue.modules()
    assert [module.id for module in modules] == list(MODULE_IDS)
    for module in modules:
        assert module.title.strip() and module.summary.strip()
        assert catalogue.module(module.id) == module
        assert catalogue.cards_in(module.id), f"module {module.id} has no cards"
    assert {card.module for card in catalogue.cards} == set(MODULE_IDS)
    assert catalogue.module("nope") is None


def test_card_shape(catalogue: Catalogue) -> None:
    for card in catalogue.cards:
        assert 3 <= len(card.steps) <= 7, card.id
        assert all(step.strip() and "\n" not in step for step in card.steps), card.id
        assert card.use_when.startswith("Use it when"), card.id
        assert "\n" not in card.use_when, card.id
        assert card.tags and all(KEBAB.match(tag) for tag in card.tags), card.id
        assert card.minutes >= 1, card.id


def test_every_timer_is_valid(catalogue: Catalogue) -> None:
    timed = [card for card in catalogue.cards if card.timer is not None]
    assert timed
    for card in timed:
        timer = card.timer
        assert timer is not None
        if timer.kind == "breath":
            assert timer.pattern is not None and len(timer.pattern) == 4, card.id
            assert all(isinstance(p, int) and p >= 0 for p in timer.pattern), card.id
            assert timer.pattern[0] > 0 and timer.pattern[2] > 0, card.id
            assert timer.cycles is not None and timer.cycles >= 1, card.id
            assert timer.seconds is None, card.id
        else:
            assert timer.kind == "countdown", card.id
            assert timer.seconds is not None and timer.seconds > 0, card.id
            assert timer.pattern is None and timer.cycles is None, card.id
        assert timer.total_seconds > 0


@pytest.mark.parametrize(
    ("card_id", "kind", "value"),
    [
        ("box-breathing", "breath", (4, 4, 4, 4)),
        ("breathing-4-7-8", "breath", (4, 7, 8, 0)),
        ("paced-breathing", "breath", (4, 0, 6, 0)),
        ("urge-surfing", "countdown", 600),
        ("tipp", "countdown", 30),
    ],
)
def test_known_timers(catalogue: Catalogue, card_id: str, kind: str, value: Any) -> None:
    card = catalogue.by_id(card_id)
    assert card is not None and card.timer is not None
    assert card.timer.kind == kind
    assert (card.timer.pattern if kind == "breath" else card.timer.seconds) == value


def test_tipp_warns_about_cold_water(catalogue: Catalogue) -> None:
    tipp = catalogue.by_id("tipp")
    assert tipp is not None and tipp.caution is not None
    caution = tipp.caution.lower()
    assert "heart" in caution and "eating disorder" in caution and "doctor" in caution


def test_search(catalogue: Catalogue) -> None:
    ids = [card.id for card in catalogue.search("breath")]
    assert "box-breathing" in ids and "breathing-4-7-8" in ids
    assert [card.id for card in catalogue.search("BREATH")] == ids
    assert "urge-surfing" in [card.id for card in catalogue.search("craving")]  # tag
    assert catalogue.search("urge surfing")[0].id == "urge-surfing"  # title first
    assert "halt-check" in [card.id for card in catalogue.search("cranky")]  # use_when
    assert catalogue.search("zzzz-no-such-thing") == []
    assert catalogue.search("   ") == list(catalogue.cards)


def test_catalogue_json(catalogue: Catalogue) -> None:
    raw = catalogue_json(catalogue)
    assert isinstance(raw, bytes)
    data = json.loads(raw)
    assert raw == json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    assert data["digest"] == catalogue.digest
    assert [m["id"] for m in data["modules"]] == list(MODULE_IDS)
    assert len(data["cards"]) == len(catalogue.cards)
    by_id = {card["id"]: card for card in data["cards"]}
    assert by_id["box-breathing"]["timer"] == {"kind": "breath", "pattern": [4, 4, 4, 4], "cycles": 6}
    assert by_id["urge-surfing"]["timer"] == {"kind": "countdown", "seconds": 600}
    assert "timer" not in by_id["dear-man"]


# --------------------------------------------------------------------------- broken files


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def _card(card_id: str, module: str) -> dict[str, Any]:
    return {
        "id": card_id,
        "title": f"Card {card_id}",
        "module": module,
        "use_when": "Use it when testing.",
        "steps": ["One.", "Two.", "Three."],
        "tags": ["test"],
        "minutes": 1,
    }


def _base_cards() -> list[dict[str, Any]]:
    return [_card(f"card-{i}", module) for i, module in enumerate(MODULE_IDS, start=1)]


def _render(cards: list[dict[str, Any]], modules: dict[str, dict[str, str]] | None = None, extra: str = "") -> str:
    if modules is None:
        modules = {m: {"title": m.title(), "summary": "About it."} for m in MODULE_IDS}
    parts = [extra]
    for module_id, table in modules.items():
        parts.append(f"[modules.{module_id}]")
        parts.extend(f"{key} = {_value(value)}" for key, value in table.items())
    for card in cards:
        parts.append("[[cards]]")
        parts.extend(f"{key} = {_value(value)}" for key, value in card.items())
    return "\n".join(parts) + "\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cards.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_valid_file_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, _render(_base_cards()))
    loaded = load_catalogue(path)
    assert len(loaded.cards) == 5
    assert loaded.source == str(path)


# Each case changes card #2 (id "card-2") and names what the message must contain.
CARD_CASES: list[tuple[str, dict[str, Any], list[str], str]] = [
    ("unknown-field", {"colour": "red"}, [], "unknown field 'colour'"),
    ("missing-steps", {}, ["steps"], "missing field 'steps'"),
    ("missing-use-when", {}, ["use_when"], "missing field 'use_when'"),
    ("empty-steps", {"steps": []}, [], "steps must not be empty"),
    ("too-many-steps", {"steps": [f"Step {i}." for i in range(8)]}, [], "steps must have 3 to 7"),
    ("blank-step", {"steps": ["One.", "  ", "Three."]}, [], "steps[1]"),
    ("unknown-module", {"module": "feelings"}, [], "module 'feelings' is unknown"),
    ("bad-use-when", {"use_when": "When testing."}, [], "use_when must start with 'Use it when'"),
    ("two-line-title", {"title": "A\nB"}, [], "title must be a single line"),
    ("bad-tag", {"tags": ["Calm"]}, [], "tags[0]"),
    ("no-tags", {"tags": []}, [], "tags must be a non-empty list"),
    ("minutes-string", {"minutes": "5"}, [], "minutes must be an integer"),
    ("minutes-bool", {"minutes": True}, [], "minutes must be an integer"),
    (
        "timer-short-pattern",
        {"timer": {"kind": "breath", "pattern": [4, 4, 4], "cycles": 4}},
        [],
        "timer.pattern must be 4 non-negative integers",
    ),
    (
        "timer-negative",
        {"timer": {"kind": "breath", "pattern": [4, -1, 4, 4], "cycles": 4}},
        [],
        "timer.pattern must be 4 non-negative integers",
    ),
    (
        "timer-no-out",
        {"timer": {"kind": "breath", "pattern": [4, 4, 0, 4], "cycles": 4}},
        [],
        "timer.pattern must have in and out",
    ),
    ("timer-no-cycles", {"timer": {"kind": "breath", "pattern": [4, 4, 4, 4]}}, [], "missing field 'timer.cycles'"),
    ("timer-zero-cycles", {"timer": {"kind": "breath", "pattern": [4, 4, 4, 4], "cycles": 0}}, [], "timer.cycles"),
    ("timer-kind", {"timer": {"kind": "stopwatch", "seconds": 10}}, [], "timer.kind"),
    ("timer-mixed", {"timer": {"kind": "countdown", "seconds": 10, "cycles": 2}}, [], "unknown field 'timer.cycles'"),
    ("timer-seconds", {"timer": {"kind": "countdown", "seconds": 0}}, [], "timer.seconds"),
    ("timer-not-table", {"timer": 30}, [], "timer must be a table"),
    ("caution-type", {"caution": 3}, [], "caution must be a string"),
]


@pytest.mark.parametrize(
    ("change", "drop", "expected"), [case[1:] for case in CARD_CASES], ids=[case[0] for case in CARD_CASES]
)
def test_broken_card_names_file_card_and_field(
    tmp_path: Path, change: dict[str, Any], drop: list[str], expected: str
) -> None:
    cards = _base_cards()
    cards[1].update(change)
    for key in drop:
        del cards[1][key]
    path = _write(tmp_path, _render(cards))
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    message = str(info.value)
    assert message.startswith(f"{path}: card #2 'card-2': "), message
    assert expected in message, message


def test_duplicate_id(tmp_path: Path) -> None:
    cards = _base_cards()
    cards[3]["id"] = "card-2"
    path = _write(tmp_path, _render(cards))
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    message = str(info.value)
    assert message.startswith(f"{path}: card #4 'card-2': id: duplicate id 'card-2'"), message
    assert "card #2" in message


def test_bad_id(tmp_path: Path) -> None:
    cards = _base_cards()
    cards[1]["id"] = "Card_Two"
    path = _write(tmp_path, _render(cards))
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    assert str(info.value).startswith(f"{path}: card #2 'Card_Two': id must be kebab-case")


def test_missing_id_uses_index(tmp_path: Path) -> None:
    cards = _base_cards()
    del cards[2]["id"]
    path = _write(tmp_path, _render(cards))
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    assert str(info.value) == f"{path}: card #3: missing field 'id'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[cards]\nid = 1\n", "invalid TOML"),
        ("oops = 1\n" + _render(_base_cards()), "unknown top-level key 'oops'"),
        (_render(_base_cards(), modules={}), "missing [modules] table"),
        (_render([]), "missing [[cards]]"),
        (
            _render(_base_cards(), modules={m: {"title": "T", "summary": "S"} for m in MODULE_IDS[:-1]}),
            "[modules]: missing module 'relapse-prevention'",
        ),
        (
            _render(
                _base_cards(),
                modules={
                    **{m: {"title": "T", "summary": "S"} for m in MODULE_IDS},
                    "extra": {"title": "X", "summary": "S"},
                },
            ),
            "[modules]: unknown module 'extra'",
        ),
        (
            _render(_base_cards(), modules={m: {"title": "T"} for m in MODULE_IDS}),
            "module 'distress-tolerance': missing field 'summary'",
        ),
        (_render(_base_cards()[:-1]), "module 'relapse-prevention': has no cards"),
    ],
    ids=[
        "toml",
        "top-level",
        "no-modules",
        "no-cards",
        "missing-module",
        "extra-module",
        "module-field",
        "empty-module",
    ],
)
def test_broken_file(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(CatalogueError, match="cannot read file") as info:
        load_catalogue(path)
    assert str(info.value).startswith(f"{path}: ")
