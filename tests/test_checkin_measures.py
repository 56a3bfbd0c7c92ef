"""The measure spec (server/checkins/measures.py) drives every place a check-in measure shows up. These tests walk
the spec, so a measure added there is checked everywhere without a new test: its column on both databases, the
form and its bounds, saving and editing, the check-in's own page, Progress, the patient's export, the therapist's
weekly summary and its CSV, and the consent screen's wording."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from server.checkins.measures import BY_NAME, MEASURES, Measure, followers
from server.checkins.models import CheckIn
from server.i18n import using_locale
from server.sharing.exports import summary_rows
from server.sharing.patient import therapist_options
from server.sharing.summary import WeekRequest, weekly_summary
from server.sharing.thresholds import Thresholds
from server.sharing.weeks import Week
from tests.conftest import Database, post_form
from tests.support.checkins import checkin_data, field_error, get_row, signed_in_patient
from tests.test_sharing_support import add_rows, checkin


def sample(m: Measure) -> Any:
    """A valid answer that isn't a default: the top of a scale or range, the last choice, yes."""
    if m.kind == "scale":
        return int(m.hi)
    if m.kind == "number":
        return float(m.hi) - m.step
    if m.kind == "choice":
        return m.choices[-1][0]
    return True


def every_answer(user: Any, day: date) -> CheckIn:
    answers = {m.name: sample(m) for m in MEASURES}
    return checkin(user, day, answers.pop("mood"), answers.pop("craving"), diary=True, **answers)


def test_spec_is_well_formed() -> None:
    names = [m.name for m in MEASURES]
    assert len(names) == len(set(names))
    for m in MEASURES:
        assert m.aggregate in ("mean", "sum", "max", "any", "last", "count")
        assert m.aggregate != "count" or (m.kind == "choice" and m.none in dict(m.choices) and m.unit is not None)
        assert m.lo < m.hi and m.step > 0
        assert m.kind != "choice" or m.choices
        assert m.follows is None or m.follows in names
        assert m.category is not None or not m.summary  # a summary figure needs a consent category
    assert {"mood", "craving", "used"} <= {m.name for m in MEASURES if m.required}


def test_every_measure_has_a_column_that_keeps_its_answer(db: Database) -> None:
    user = db.make_user("patient")
    add_rows(db, [every_answer(user, date(2026, 11, 20))])
    for m in MEASURES:
        stored = db.scalar(f"SELECT {m.name} FROM checkin WHERE user_id = {user.id}")
        expected = sample(m)
        assert (bool(stored) if isinstance(expected, bool) else stored) == expected, m.name


def test_every_measure_is_on_the_form_saved_shown_and_exported(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    assert post_form(client, "/checkin/settings", {"diary_card": "yes"}).status_code in (200, 303)
    page = client.get("/checkin").text
    for m in MEASURES:
        assert f'name="{m.name}"' in page, m.name
        assert str(m.form_label).replace("'", "&#39;") in page, m.name

    answers = {m.name: m.form_value(sample(m)) for m in MEASURES}
    response = post_form(client, "/checkin", checkin_data(**answers, substances="alcohol", diary_section="1"))
    assert response.status_code == 303, response.text
    checkin_id = int(response.headers["location"].split("/checkins/")[1].split("?")[0])
    row = get_row(db, CheckIn, checkin_id)
    for m in MEASURES:
        assert getattr(row, m.name) == sample(m), m.name

    shown = client.get(f"/checkins/{checkin_id}").text
    for m in MEASURES:
        if m.name not in followers() and m.group in ("daily", "diary"):
            assert str(m.label) in shown and m.display(sample(m)) in shown.replace("&#39;", "'"), m.name
    # Editing starts from what was saved.
    edit = client.get("/checkin").text
    for m in MEASURES:
        if m.kind in ("scale", "choice", "yesno") and not m.choices:
            assert f'name="{m.name}" value="{answers[m.name]}" checked' in edit, m.name
        elif m.kind == "number":
            assert f'value="{answers[m.name]}"' in edit, m.name

    progress = client.get("/progress?range=7").text
    for m in MEASURES:
        if m.progress:
            assert str(m.label) in progress and m.display(sample(m)) in progress, m.name

    header = next(csv.reader(io.StringIO(client.get("/export.csv").text.lstrip("\ufeff"))))
    exported = json.loads(client.get("/export.json").text)["checkins"][0]
    for m in MEASURES:
        assert str(m.label) in header, m.name
        assert exported[m.name] == sample(m), m.name
    assert user.id is not None


@pytest.mark.parametrize("measure", [m for m in MEASURES if m.kind in ("scale", "number")], ids=lambda m: m.name)
def test_out_of_bounds_answers_are_refused_kindly(client: TestClient, db: Database, measure: Measure) -> None:
    user = signed_in_patient(client, db)
    post_form(client, "/checkin/settings", {"diary_card": "yes"})
    too_high = measure.hi + (1 if measure.kind == "scale" else measure.step)
    response = post_form(client, "/checkin", checkin_data(**{measure.name: f"{too_high:g}"}))
    assert response.status_code == 422
    assert field_error(response.text, measure.name), measure.name
    assert db.scalar(f"SELECT count(*) FROM checkin WHERE user_id = {user.id}") == 0


def test_summary_figures_follow_the_spec_and_consent(db: Database) -> None:
    therapist = db.make_user("therapist")
    p = db.make_user("patient", timezone="America/New_York", therapist=therapist)
    week = Week(date(2026, 11, 16))
    days = [week.monday + timedelta(days=i) for i in range(3)]
    add_rows(db, [every_answer(p, d) for d in days])
    shown = [m for m in MEASURES if m.summary]
    for category in sorted({m.category for m in shown if m.category}):

        async def work(session: AsyncSession, category: str = category) -> Any:
            request = WeekRequest(
                patient_id=p.id,  # type: ignore[arg-type]
                timezone=p.timezone,
                week=week,
                categories=frozenset({category}),
                data_from=date(2026, 1, 1),
                today=date(2026, 11, 24),
                now=datetime(2026, 11, 24, 17, tzinfo=UTC),
            )
            return await weekly_summary(session, request, Thresholds())

        s = db.run(work)
        rows = {(r.measure, r.value) for r in summary_rows(s)}
        for m in MEASURES:
            if m.summary and m.category == category:
                expected = m.aggregate_of([sample(m)] * len(days))
                assert s.measures[m.name] == expected, m.name
                assert (str(m.label), m.aggregate_text(expected)) in rows, m.name
            elif m.summary:
                assert m.name not in s.measures and str(m.label) not in {r[0] for r in rows}, m.name


def test_consent_screen_names_measures_its_words_do_not_cover() -> None:
    hints = {o.id: str(o.hint) for o in therapist_options()}
    for m in MEASURES:
        if m.consent_phrase is not None:
            assert m.category in hints and str(m.consent_phrase) in hints[m.category], m.name


def test_demo_fills_every_measure_it_has_values_for(db: Database, settings: Any) -> None:
    from server.demo import load_demo

    db.run(lambda session: load_demo(session, settings))
    for m in MEASURES:
        if m.demo is not None:
            assert db.scalar(f"SELECT count(*) FROM checkin WHERE {m.name} IS NOT NULL") > 0, m.name


def test_the_migrated_table_has_no_column_the_spec_and_model_do_not_know(db: Database) -> None:
    columns = set(CheckIn.__table__.columns.keys())  # type: ignore[attr-defined]
    assert {m.name for m in MEASURES} <= columns
    db.run(_select_all_columns)


async def _select_all_columns(session: AsyncSession) -> None:
    names = ", ".join(CheckIn.__table__.columns.keys())  # type: ignore[attr-defined]
    await session.execute(text(f"SELECT {names} FROM checkin"))


# --------------------------------------------------------------------------- the measure added through the spec


def test_hours_of_exercise_add_up_on_progress_and_in_the_weekly_summary(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    today = date(2026, 11, 24)
    add_rows(db, [checkin(user, today - timedelta(days=n), 5, 3, exercise_hours=h) for n, h in ((1, 1.5), (2, 0.5))])
    page = client.get("/progress?range=7").text
    assert "Hours of exercise" in page and "2 hours in total" in page

    async def week(session: AsyncSession) -> Any:
        request = WeekRequest(
            patient_id=user.id,  # type: ignore[arg-type]
            timezone=user.timezone,
            week=Week(date(2026, 11, 23)),
            categories=frozenset({"mood_sleep"}),
            data_from=date(2026, 1, 1),
            today=today,
            now=datetime(2026, 11, 24, 17, tzinfo=UTC),
        )
        return await weekly_summary(session, request, Thresholds())

    s = db.run(week)
    assert s.measures["exercise_hours"] == 1.5  # Monday only: Sunday belongs to the week before
    assert ("Mood and sleep", "Hours of exercise", "1.5 hours in total") in {
        (r.section, r.measure, r.value) for r in summary_rows(s)
    }
    hint = {o.id: str(o.hint) for o in therapist_options()}["mood_sleep"]
    assert hint == "Your daily mood (0–10) and hours of sleep. It also includes: hours of exercise."


def test_exercise_migration_goes_down_and_up_again(tmp_path: Any) -> None:
    import sqlite3

    from alembic import command
    from alembic.script import ScriptDirectory

    from server.db import alembic_config, migrate

    path = tmp_path / "m.db"
    url = f"sqlite+aiosqlite:///{path}"

    def columns() -> set[str]:
        with sqlite3.connect(path) as conn:
            return {row[1] for row in conn.execute("PRAGMA table_info(checkin)")}

    migrate(url)
    assert "exercise_hours" in columns()
    before = ScriptDirectory.from_config(alembic_config(url)).get_revision("0010").down_revision
    command.downgrade(alembic_config(url), str(before))
    assert "exercise_hours" not in columns() and "sleep_hours" in columns()
    command.upgrade(alembic_config(url), "head")
    assert "exercise_hours" in columns()


def test_a_displayed_value_is_remembered_per_language_and_type() -> None:
    """`display` remembers its words per measure, language and value, the value's type included: True and 1 are
    equal keys in Python but read "yes" and "1 of 10"; a value that can't be a key is worked out each time."""
    mood = BY_NAME["mood"]
    for locale in ("en", "es"):
        with using_locale(locale):
            for value in (1, True, 1.0, "1", None, ""):
                assert mood.display(value) == mood._display(value)
                assert mood.display(value) == mood._display(value)  # remembered
            assert mood.display(["a"]) == mood._display(["a"])
    with using_locale("en"):
        english = mood.display(7)
    with using_locale("es"):
        assert mood.display(7) != english  # "7 of 10" / "7 de 10"
    assert mood.display(True) != mood.display(1)
