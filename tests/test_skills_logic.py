"""The public skills functions other domains call, checked against hand-computed numbers on real SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from litestar.testing import TestClient
from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import User
from server.models import metadatas
from server.skills import catalogue as catalogue_module
from server.skills import logic
from server.skills.catalogue import CatalogueError, default_catalogue
from server.skills.models import SkillFavourite
from tests.conftest import Database
from tests.test_skills import add_practice


@pytest.fixture
def patient(db: Database) -> User:
    return db.make_user("patient", "pat@example.org")


def run(db: Database, fn: Any, *args: Any) -> Any:
    async def work(session: AsyncSession) -> Any:
        return await fn(session, *args)

    return db.run(work)


# --------------------------------------------------------------------------- most helpful


def test_most_helpful_ordering_matches_hand_computed_drops(db: Database, patient: User) -> None:
    other = db.make_user("patient", "other@example.org")
    # Hand-computed average drops (before − after), practices with both ratings only:
    add_practice(db, patient, "box-breathing", 8, 3)  # 5
    add_practice(db, patient, "box-breathing", 6, 4)  # 2   -> box-breathing 3.5 over 2
    add_practice(db, patient, "stop", 7, 3)  # 4            -> stop 4.0 over 1
    add_practice(db, patient, "paced-breathing", 7, 4)  # 3
    add_practice(db, patient, "paced-breathing", 6, 3)  # 3 -> paced-breathing 3.0 over 2
    add_practice(db, patient, "describe", 5, 2)  # 3
    add_practice(db, patient, "describe", 4, 1)  # 3        -> describe 3.0 over 2 ("Describe" < "Paced breathing")
    add_practice(db, patient, "observe", 5, 2)  # 3         -> observe 3.0 over 1 (fewer practices)
    add_practice(db, patient, "urge-surfing", 6, 7)  # -1   -> made it worse: never "helpful"
    add_practice(db, patient, "body-scan", 9, None)  # one rating only: ignored
    add_practice(db, patient, "body-scan", None, 1)  # ignored
    add_practice(db, other, "half-smiling", 10, 0)  # someone else's: ignored

    stats = run(db, logic.helpful_card_stats, patient.id)
    assert [(s.card.id, s.avg_drop, s.count) for s in stats] == [
        ("stop", 4.0, 1),
        ("box-breathing", 3.5, 2),
        ("describe", 3.0, 2),
        ("paced-breathing", 3.0, 2),
        ("observe", 3.0, 1),
    ]
    cards = run(db, logic.most_helpful_cards, patient.id)
    assert [c.id for c in cards] == ["stop", "box-breathing", "describe"]
    assert [c.id for c in run(db, logic.most_helpful_cards, patient.id, 5)] == [
        "stop", "box-breathing", "describe", "paced-breathing", "observe",
    ]  # fmt: skip


def test_most_helpful_falls_back_to_urge_surfing_tipp_stop(db: Database, patient: User) -> None:
    assert [c.id for c in run(db, logic.most_helpful_cards, patient.id)] == ["urge-surfing", "tipp", "stop"]
    add_practice(db, patient, "tipp", 9, 3)
    assert [c.id for c in run(db, logic.most_helpful_cards, patient.id)] == ["tipp", "urge-surfing", "stop"]
    add_practice(db, patient, "wise-mind", 4, 4)  # no drop: not helpful
    assert [c.id for c in run(db, logic.most_helpful_cards, patient.id, 2)] == ["tipp", "urge-surfing"]
    assert run(db, logic.most_helpful_cards, patient.id, 0) == []


# --------------------------------------------------------------------------- counts and summaries


def test_weekly_summary_and_counts(db: Database, patient: User) -> None:
    start = datetime(2026, 11, 16, 5, 0, tzinfo=UTC)  # Monday 00:00 in New York
    end = start + timedelta(days=7)
    add_practice(db, patient, "stop", 8, 4, started_at=start)  # the first instant counts
    add_practice(db, patient, "stop", 6, 5, started_at=start + timedelta(days=2))
    add_practice(db, patient, "wise-mind", None, None, started_at=start + timedelta(days=3))
    add_practice(db, patient, "box-breathing", 5, 5, started_at=end - timedelta(seconds=1))
    add_practice(db, patient, "tipp", 9, 1, started_at=end)  # the end is excluded
    add_practice(db, patient, "tipp", 9, 1, started_at=start - timedelta(seconds=1))

    assert run(db, logic.practice_counts, patient.id, start, end) == {"stop": 2, "box-breathing": 1, "wise-mind": 1}
    summary = run(db, logic.weekly_practice_summary, patient.id, start, end)
    # Drops: 4, 1, 0 -> 5 / 3
    assert summary == {
        "count": 4,
        "cards": [("stop", "STOP: pause before you act", 2), ("box-breathing", "Box breathing", 1),
                  ("wise-mind", "Wise mind", 1)],
        "avg_drop": 1.67,
    }  # fmt: skip
    empty = run(db, logic.weekly_practice_summary, patient.id, end + timedelta(days=30), end + timedelta(days=37))
    assert empty == {"count": 0, "cards": [], "avg_drop": None}


def test_practices_on_local_date_use_the_persons_time_zone(db: Database) -> None:
    person = db.make_user("patient", "la@example.org", timezone="America/Los_Angeles")
    # 2026-11-20 in Los Angeles runs from 08:00 UTC on the 20th to 08:00 UTC on the 21st.
    add_practice(db, person, "stop", 5, 3, started_at=datetime(2026, 11, 20, 7, 59, tzinfo=UTC))  # the 19th there
    add_practice(db, person, "observe", 5, 3, started_at=datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    add_practice(db, person, "tipp", 5, 3, started_at=datetime(2026, 11, 21, 7, 30, tzinfo=UTC))  # 23:30 there
    add_practice(db, person, "describe", 5, 3, started_at=datetime(2026, 11, 21, 8, 0, tzinfo=UTC))  # the 21st
    rows = run(db, logic.practices_on_local_date, person, date(2026, 11, 20))
    assert [r.card_id for r in rows] == ["observe", "tipp"]
    assert [logic.card_title(r.card_id) for r in rows] == ["Observe", "TIPP: cool down your body fast"]
    # A DST day is 25 hours long in New York (2026-11-01): both ends still line up.
    start, end = logic.local_day_bounds(date(2026, 11, 1), "America/New_York")
    assert end - start == timedelta(hours=25)


# --------------------------------------------------------------------------- today's suggestion


def test_suggestion_changes_every_day_and_is_stable_within_a_day(db: Database, patient: User) -> None:
    first = date(2026, 11, 1)
    days = [first + timedelta(days=i) for i in range(60)]
    picks = [run(db, logic.suggested_card, patient, day).id for day in days]
    assert all(a != b for a, b in pairwise(picks))
    assert len(set(picks)) > 20  # it really walks through the library
    assert run(db, logic.suggested_card, patient, days[7]).id == picks[7]
    other = db.make_user("patient", "other@example.org")
    assert [run(db, logic.suggested_card, other, day).id for day in days[:10]] != picks[:10]


def test_suggestion_prefers_favourites_and_helpful_cards_some_days(db: Database, patient: User) -> None:
    async def star(session: AsyncSession) -> None:
        session.add(SkillFavourite(user_id=patient.id, card_id="wise-mind"))  # type: ignore[arg-type]

    db.run(star)
    add_practice(db, patient, "tipp", 9, 2)
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(30)]
    picks = [run(db, logic.suggested_card, patient, day).id for day in days]
    preferred_days = [p for d, p in zip(days, picks, strict=True) if d.toordinal() % 3 == 0]
    assert set(preferred_days) == {"wise-mind", "tipp"}
    others = [p for d, p in zip(days, picks, strict=True) if d.toordinal() % 3 != 0]
    assert not {"wise-mind", "tipp"} & set(others)
    assert all(a != b for a, b in pairwise(picks))


# --------------------------------------------------------------------------- panels for other pages


def _panel(client: TestClient, name: str, **context: Any) -> str:
    """A panel rendered by the app's own template engine, as a page including it would (`url_for` reads the app
    off the request)."""
    return client.app.template_engine.get_template(name).render(**context, request=SimpleNamespace(app=client.app))


def test_progress_panel_shows_most_helpful_skills(client: TestClient, db: Database, patient: User) -> None:
    add_practice(db, patient, "box-breathing", 8, 3)
    add_practice(db, patient, "stop", 6, 5, started_at=datetime.now(UTC) - timedelta(days=20))
    context = run(db, logic.progress_context, patient)
    progress = context["skills_progress"]
    assert (progress["total"], progress["last_7_days"]) == (2, 1)
    assert [s.card.id for s in progress["helpful"]] == ["box-breathing", "stop"]
    html = _panel(client, "skills/_progress_panel.html", **context)
    assert "Skills that help me most" in html
    assert 'href="/skills/box-breathing"' in html and 'href="/skills/history"' in html
    assert "Distress went down by 5.0 points on average, over 1 practice." in html
    assert html.index("Box breathing") < html.index("STOP: pause before you act")
    empty = _panel(client, "skills/_progress_panel.html", skills_progress={"helpful": [], "total": 0, "last_7_days": 0})
    assert "Rate your distress before and after" in empty


def test_today_panel_renders_the_suggestion(client: TestClient, db: Database, patient: User) -> None:
    context = run(db, logic.today_context, patient)
    card = context["skills_suggestion"]
    html = _panel(client, "skills/_today_panel.html", **context)
    assert f'href="/skills/{card.id}"' in html


def test_no_card_id_is_taken_by_a_route() -> None:
    assert not {"history", "practice", "catalogue.json"} & {card.id for card in default_catalogue().cards}


def test_offline_urls_cover_the_whole_library() -> None:
    urls = logic.offline_urls()
    assert urls[0] == "/skills"
    assert len([u for u in urls if u.startswith("/skills/")]) == len(default_catalogue())


# --------------------------------------------------------------------------- start-up and schema


def test_a_broken_card_file_stops_start_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from server.app import create_app
    from server.settings import Settings

    broken = tmp_path / "cards.toml"
    broken.write_text(catalogue_module.DEFAULT_PATH.read_text().replace('id = "tipp"', 'id = "TIPP"', 1))
    monkeypatch.setattr(catalogue_module, "DEFAULT_PATH", broken)
    default_catalogue.cache_clear()
    try:
        settings = Settings.from_env({"STEADY_DATA_DIR": str(tmp_path), "SECRET_KEY": "s" * 50}, migrate_on_start=False)
        with pytest.raises(CatalogueError, match=r"cards\.toml: card #\d+ 'TIPP': id must be kebab-case"):
            create_app(settings)
    finally:
        monkeypatch.undo()
        default_catalogue.cache_clear()
    assert default_catalogue().by_id("tipp") is not None


def test_migration_matches_the_models(sqlite_template: Path) -> None:
    engine = create_engine(f"sqlite:///{sqlite_template}")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, metadatas)
    engine.dispose()
    mine = [d for d in diffs if "skill_" in repr(d)]
    assert mine == []


def test_card_words_are_extractable_for_translators() -> None:
    from server.skills.extract import extract_cards

    with catalogue_module.DEFAULT_PATH.open("rb") as handle:
        found = list(extract_cards(handle, (), (), {}))
    messages = {message for _, _, message, _ in found}
    for card in default_catalogue().cards:
        assert {card.title, card.use_when, *card.steps} <= messages
        if card.caution:
            assert card.caution in messages
    lines = catalogue_module.DEFAULT_PATH.read_text().splitlines()
    for line, _, message, _ in found:
        assert message[:40] in lines[line - 1]
