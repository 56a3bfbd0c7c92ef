"""Progress figures against hand-computed values, the charts' text alternatives, sober-days counters and
restarts, export, and the demo history."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from server import localtime as dates
from server.accounts.models import User
from server.checkins import progress, triggers
from tests.conftest import Database, login, post_form
from tests.support.checkins import (
    add_checkin,
    add_craving,
    checkin_data,
    count,
    craving_data,
    field_error,
    signed_in_patient,
    today_for,
)


def _history(db: Database, user: User) -> date:
    today = today_for(user)
    add_checkin(db, user, today, mood=8, craving=2, triggers=["stress"])
    add_checkin(db, user, today - timedelta(days=1), mood=4, craving=7, used=True, substances="alcohol",
                triggers=["stress", "lonely"])  # fmt: skip
    add_checkin(db, user, today - timedelta(days=3), mood=6, craving=5, triggers=["lonely"], late=True)
    add_checkin(db, user, today - timedelta(days=10), mood=2, craving=9, used=True, substances="pills")
    noon_yesterday = dates.start_of_local_day(user, today - timedelta(days=1)) + timedelta(hours=12)
    add_craving(db, user, noon_yesterday, intensity=9, triggers=["stress"], outcome="passed")
    add_craving(db, user, noon_yesterday + timedelta(hours=2), intensity=5, outcome="used")
    add_craving(db, user, noon_yesterday - timedelta(days=19), intensity=3, outcome="passed")
    return today


def test_range_summary_and_triggers_match_hand_computed_values(db: Database) -> None:
    user = db.make_user("patient", "figures@example.org")
    other = db.make_user("patient", "noise@example.org")
    add_checkin(db, other, today_for(other), mood=0, craving=10, used=True, triggers=["stress"])
    today = _history(db, user)
    labels = triggers.build_set(None)

    async def work(session: AsyncSession) -> Any:
        week = await progress.range_summary(session, user.id, today - timedelta(days=6), today)  # type: ignore[arg-type]
        month = await progress.range_summary(session, user.id, today - timedelta(days=29), today)  # type: ignore[arg-type]
        top = await progress.top_triggers(session, user.id, today - timedelta(days=6), today, labels)  # type: ignore[arg-type]
        points = await progress.daily_points(session, user.id, today - timedelta(days=6), today)  # type: ignore[arg-type]
        return week, month, top, points

    week, month, top, points = db.run(work)
    assert (week.days, week.checkin_days, week.used_days, week.not_used_days, week.missing_days) == (7, 3, 1, 2, 4)
    assert week.avg_mood == 6.0 and round(week.avg_craving, 3) == round(14 / 3, 3)
    assert (week.craving_logs, week.cravings_passed, week.cravings_used, week.late_days) == (2, 1, 1, 1)
    assert (month.checkin_days, month.used_days, month.craving_logs) == (4, 2, 3)
    assert month.avg_mood == 5.0 and month.avg_craving == 5.75
    # stress: check-ins today (2) and yesterday (7) and yesterday's craving log (9); lonely: 7 and 5.
    assert [(t.trigger_id, t.label, t.count, t.avg_craving) for t in top] == [
        ("stress", "Stress", 3, 6.0),
        ("lonely", "Lonely", 2, 6.0),
    ]
    assert len(points) == 7 and points[-1].day == today
    assert [p.mood for p in points] == [None, None, None, 6, None, 4, 8]
    assert points[5].used is True and points[5].craving_logs == 2 and points[5].max_logged == 9
    assert points[3].late is True


def test_progress_queries_stay_within_the_range(db: Database) -> None:
    """A year of history: the 7-day page's queries are bounded by date and return only that range."""
    user = db.make_user("patient", "year@example.org")
    today = today_for(user)

    async def fill(session: AsyncSession) -> None:
        from server.checkins.models import CheckIn

        for offset in range(365):
            session.add(CheckIn(user_id=user.id, local_date=today - timedelta(days=offset), mood=offset % 11,  # type: ignore[arg-type]
                                craving=3, idempotency_key=f"k-{offset:010d}"))  # fmt: skip

    db.run(fill)
    statements: list[str] = []
    fetched: list[int] = []

    async def measure() -> None:
        engine = create_async_engine(db.url, poolclass=NullPool)
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        try:
            async with async_sessionmaker(engine)() as session:
                start = today - timedelta(days=6)
                points = await progress.daily_points(session, user.id, start, today)  # type: ignore[arg-type]
                fetched.append(sum(1 for p in points if p.checked_in))
                await progress.range_summary(session, user.id, start, today)  # type: ignore[arg-type]
                await progress.top_triggers(session, user.id, start, today, triggers.build_set(None))  # type: ignore[arg-type]
        finally:
            await engine.dispose()

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(__import__("asyncio").run, measure()).result()
    assert fetched == [7]
    for sql in statements:
        assert "local_date >=" in sql and "local_date <=" in sql, sql
    assert any("avg(" in sql.lower() for sql in statements) and any("group by" in sql.lower() for sql in statements)


def test_progress_page_charts_and_text_alternatives(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    _history(db, user)
    for days in (7, 30, 90):
        response = client.get(f"/progress?range={days}")
        assert response.status_code == 200
        page = response.text
        assert page.count('role="img"') == 3
        assert f"<title id=\"mood-chart-title\">Mood over the last {days} days</title>" in page
        assert '<desc id="mood-chart-desc">' in page and "<polyline" in page
        assert page.count("<tr><th scope=\"row\">") >= days  # every day's numbers, as a table
        assert "<script" not in page.split("</head>")[1]  # no chart JavaScript
    page = html.unescape(client.get("/progress?range=7").text)
    assert "Average mood: 6.0 out of 10." in page
    assert "Mood on 3 of 7 days. Average 6 out of 10; lowest 4" in page
    assert "2 days without use" in page and "1 day with use" in page and "4 days without a check-in" in page
    assert re.search(r"<th scope=\"row\">Stress</th><td>3</td><td>6\.0</td>", page)
    # The calendar and the week strip carry the number too, not only a colour.
    assert 'class="cal-day mood-b4 is-today"' in page and '<span class="cal-value">8</span>' in page
    assert "mood 8, craving 2" in page
    assert "filled in later" in page
    # An odd range or month falls back instead of failing.
    assert client.get("/progress?range=abc&month=2026-99").status_code == 200
    assert client.get("/progress?month=1999-01").status_code == 200


def test_line_chart_breaks_at_missing_days() -> None:
    from server.checkins.charts import line_chart

    day = date(2026, 1, 1)
    points = [(day + timedelta(days=i), v) for i, v in enumerate([3, 4, None, 6, 7, None, None])]
    svg = str(line_chart(points, chart_id="c", title="T", description="D", series="mood"))
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 4
    assert '<title id="c-title">T</title>' in svg and 'aria-labelledby="c-title c-desc"' in svg
    empty = str(line_chart([(day, None)], chart_id="e", title="T", description="D", series="craving"))
    assert "<polyline" not in empty and "<rect" not in empty


# --------------------------------------------------------------------------- sober days


def test_sobriety_date_use_and_confirmed_restart(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    today = today_for(user)
    start = today - timedelta(days=10)
    assert post_form(client, "/sober", {"started_on": start.isoformat()}).status_code == 303
    page = html.unescape(client.get("/sober").text)
    assert "10 days" in page and "Longest run: 10 days" in page

    # A recorded use does not reset anything by itself...
    saved = post_form(client, "/checkin", checkin_data(used="yes", substances="alcohol"))
    assert db.scalar("SELECT started_on FROM sobriety_date WHERE user_id = :u", u=user.id) in (start, start.isoformat())
    detail = client.get(saved.headers["location"]).text
    assert f'href="/sober/reset?on={today.isoformat()}"' in detail
    # ...it asks first.
    confirm = client.get(f"/sober/reset?on={today.isoformat()}")
    assert confirm.status_code == 200 and 'name="substance" value="" checked' in confirm.text
    done = post_form(client, "/sober/reset", {"reset_on": today.isoformat(), "substance": [""],
                                              "note": "=SUM(A1) a party; next time I leave early"})  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/sober?restarted=1"
    page = html.unescape(client.get("/sober?restarted=1").text)
    assert "Your count starts again from here." in page
    assert "0 days" in page and "Longest run: 10 days" in page and "a run of 10 days" in page
    assert count(db, "sober_reset", user) == 1
    # A second tap on the same confirmation changes nothing.
    again = post_form(client, "/sober/reset", {"reset_on": today.isoformat(), "substance": [""]})
    assert again.headers["location"] == "/sober?unchanged=1" and count(db, "sober_reset", user) == 1

    reset_id = db.scalar("SELECT id FROM sober_reset WHERE user_id = :u", u=user.id)
    assert post_form(client, f"/sober/resets/{reset_id}/note", {"note": "What I learned: HALT."}).status_code == 303
    assert db.scalar("SELECT note FROM sober_reset WHERE id = :i", i=reset_id) == "What I learned: HALT."
    too_long = post_form(client, f"/sober/resets/{reset_id}/note", {"note": "x" * 2001})
    assert too_long.status_code == 422
    assert field_error(too_long.text, f"note-{reset_id}") == "Please keep this to 2000 characters or fewer."
    other = db.make_user("patient", "other@example.org")
    assert post_form(client, f"/sober/resets/{reset_id + 1000}/note", {"note": "x"}).status_code == 404
    del other


def test_restarts_are_listed_newest_first_with_their_notes(client: TestClient, db: Database) -> None:
    """The Sober page reads its counters and restarts in one statement; the restarts come newest first (a later
    day first, the later one first within a day), each with its run and note."""
    user = signed_in_patient(client, db)
    today = today_for(user)
    assert post_form(client, "/sober", {"started_on": (today - timedelta(days=30)).isoformat()}).status_code == 303
    assert post_form(client, "/sober", {"started_on": (today - timedelta(days=30)).isoformat(),
                                        "substance": "cannabis"}).status_code == 303  # fmt: skip
    for day, substance, note in [(today - timedelta(days=20), "", "first"), (today - timedelta(days=3), "", "second"),
                                 (today - timedelta(days=3), "cannabis", "third")]:  # fmt: skip
        done = post_form(client, "/sober/reset", {"reset_on": day.isoformat(), "substance": [substance], "note": note})
        assert done.status_code == 303, done.text
    page = client.get("/sober").text
    notes = [page.index(f">{note}</textarea>") for note in ("third", "second", "first")]
    assert notes == sorted(notes)
    assert "a run of 10 days" in html.unescape(page) and "a run of 17 days" in html.unescape(page)


def test_per_substance_counters_and_bad_dates(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    today = today_for(user)
    post_form(client, "/sober", {"started_on": (today - timedelta(days=40)).isoformat()})
    post_form(client, "/sober", {"started_on": (today - timedelta(days=5)).isoformat(), "substance": " cannabis "})
    page = html.unescape(client.get("/sober").text)
    assert "40 days" in page and "5 days" in page and "cannabis" in page
    future = post_form(client, "/sober", {"started_on": (today + timedelta(days=1)).isoformat()})
    assert future.status_code == 422
    assert "hasn't come yet" in html.unescape(field_error(future.text, "started_on") or "")
    bad = post_form(client, "/sober", {"started_on": "31/12/2025", "substance": "alcohol"})
    assert bad.status_code == 422 and field_error(bad.text, "started_on") and 'value="alcohol"' in bad.text
    # Restart only the cannabis count, from a use 2 days ago; a use before a count began changes nothing.
    post_form(client, "/sober/reset", {"reset_on": (today - timedelta(days=2)).isoformat(), "substance": ["cannabis"]})
    rows = dict(db.run(lambda s: _all(s, "SELECT substance, started_on FROM sobriety_date WHERE user_id = :u", user)))
    assert str(rows["cannabis"]) == (today - timedelta(days=2)).isoformat()
    assert str(rows[""]) == (today - timedelta(days=40)).isoformat()
    early = post_form(client, "/sober/reset", {"reset_on": (today - timedelta(days=9)).isoformat(),
                                                "substance": ["cannabis"]})  # fmt: skip
    assert early.headers["location"] == "/sober?unchanged=1"
    nothing = post_form(client, "/sober/reset", {"reset_on": today.isoformat()})
    assert nothing.status_code == 422 and field_error(nothing.text, "substance")
    counters_today = html.unescape(client.get("/today").text)
    assert '<span class="stat">40</span> days sober' in counters_today


async def _all(session: AsyncSession, sql: str, user: User) -> list[Any]:
    from sqlalchemy import text

    return list((await session.execute(text(sql), {"u": user.id})).all())


# --------------------------------------------------------------------------- export


def test_export_csv_and_json_hold_all_and_only_my_data(client: TestClient, db: Database) -> None:
    other = db.make_user("patient", "other@example.org")
    add_checkin(db, other, today_for(other), note="NOT MINE")
    user = signed_in_patient(client, db)
    post_form(client, "/checkin", checkin_data(triggers=["hungry"], note="=HYPERLINK(\"x\")", used="yes",
                                               substances="alcohol"))  # fmt: skip
    post_form(client, "/cravings", craving_data(note="+1 then -1", where_with="@home"))
    post_form(client, "/sober", {"started_on": (today_for(user) - timedelta(days=3)).isoformat()})
    post_form(client, "/sober/reset", {"reset_on": today_for(user).isoformat(), "substance": [""], "note": "ok"})

    response = client.get("/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert "NOT MINE" not in response.text
    from server.checkins.export import CSV_COLUMNS

    header, *records = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert header[:4] == ["Record", "Number", "Day", "Mood"]  # people read the first row; JSON keeps field names
    rows = [dict(zip(CSV_COLUMNS, record, strict=True)) for record in records]
    kinds = [r["record"] for r in rows]
    assert kinds == ["checkin", "craving", "sobriety_date", "sober_reset"]
    checkin = rows[0]
    assert checkin["note"] == "'=HYPERLINK(\"x\")"  # never run as a formula in a spreadsheet
    assert checkin["triggers"] == "hungry" and checkin["used"] == "yes" and checkin["mood"] == "6"
    assert rows[1]["note"] == "'+1 then -1" and rows[1]["where_with"] == "'@home"
    assert rows[3]["previous_days"] == "3" and rows[3]["note"] == "ok"

    data = json.loads(client.get("/export.json").text)
    assert len(data["checkins"]) == 1 and data["checkins"][0]["note"] == '=HYPERLINK("x")'
    assert data["checkins"][0]["triggers"] == ["hungry"]
    assert len(data["cravings"]) == 1 and data["cravings"][0]["action"] == "skill"
    assert data["sober_resets"][0]["previous_days"] == 3 and data["timezone"] == "America/New_York"
    assert {t["id"] for t in data["triggers"]} >= {"hungry", "social-media"}
    assert "NOT MINE" not in json.dumps(data)
    assert client.get("/export").status_code == 200


# --------------------------------------------------------------------------- demo


def test_demo_history_loads_and_shows(client: TestClient, db: Database, settings: Any) -> None:
    from server.demo import DEMO_PASSWORD, load_demo

    db.run(lambda s: load_demo(s, settings))
    sam = db.scalar("SELECT id FROM user_account WHERE email = 'sam@demo.steady'")
    jordan = db.scalar("SELECT id FROM user_account WHERE email = 'jordan@demo.steady'")
    assert 40 <= db.scalar("SELECT count(*) FROM checkin WHERE user_id = :u", u=sam) <= 56
    assert db.scalar("SELECT count(*) FROM craving_log WHERE user_id = :u", u=sam) > 10
    assert db.scalar("SELECT count(*) FROM sober_reset WHERE user_id = :u", u=jordan) == 1
    assert db.scalar("SELECT count(*) FROM checkin WHERE user_id = :u AND used", u=jordan) >= 1
    login(client, "jordan@demo.steady", DEMO_PASSWORD)
    for url in ("/today", "/progress?range=90", "/sober", "/log", "/checkin"):
        assert client.get(url).status_code == 200, url
    assert "A wedding with an open bar" in client.get("/sober").text
    assert "Diary card" in client.get("/checkin").text


def test_timestamps_are_utc_aware(db: Database) -> None:
    user = db.make_user("patient", "tz@example.org")
    cid = add_craving(db, user, datetime(2026, 3, 8, 6, 30, tzinfo=UTC))
    stored = db.scalar("SELECT local_date FROM craving_log WHERE id = :i", i=cid)
    assert str(stored) == "2026-03-08"  # 01:30 EST
