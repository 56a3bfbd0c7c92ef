"""The check-in's "Did you go to a support meeting?" (a measure of the spec): asked on the form, counted on Progress,
and in the therapist's weekly summary only under "Group attendance". Both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from server.sharing.exports import summary_rows
from server.sharing.summary import WeekRequest, weekly_summary
from server.sharing.thresholds import Thresholds
from server.sharing.weeks import Week
from tests.conftest import Database, post_form
from tests.support.checkins import checkin_data, field_error, signed_in_patient
from tests.test_sharing_support import add_rows, checkin

# SQL that differs by dialect (bit masks, bulk updates, booleans, time columns): both databases.
pytestmark = pytest.mark.dialect_sensitive


def test_the_check_in_asks_and_progress_counts_days_with_a_meeting(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    form = client.get("/checkin").text
    assert "Did you go to a support meeting today? (optional)" in form
    for label in ("AA", "NA", "SMART Recovery", "Refuge Recovery", "Another meeting", "No meeting today"):
        assert label in form
    assert post_form(client, "/checkin", checkin_data(support_meeting="refuge")).status_code in (200, 303)
    assert db.scalar("SELECT support_meeting FROM checkin WHERE user_id = :u", u=user.id) == "refuge"
    today = date(2026, 11, 24)
    add_rows(db, [checkin(user, today - timedelta(days=n), 5, 3, support_meeting=kind)
                  for n, kind in ((1, "aa"), (2, "none"), (3, "smart"), (4, ""))])  # fmt: skip
    page = client.get("/progress?range=7").text
    assert "Support meetings" in page and "3 days with a meeting" in page  # none and unanswered don't count
    bad = post_form(client, "/checkin", checkin_data(support_meeting="casino"))
    assert bad.status_code == 422 and field_error(bad.text, "support_meeting")


def _week(db: Database, user: Any, categories: set[str]) -> Any:
    async def work(session: AsyncSession) -> Any:
        request = WeekRequest(
            patient_id=user.id,
            timezone=user.timezone,
            week=Week(date(2026, 11, 16)),
            categories=frozenset(categories),
            data_from=date(2026, 1, 1),
            today=date(2026, 11, 24),
            now=datetime(2026, 11, 24, 17, tzinfo=UTC),
        )
        return await weekly_summary(session, request, Thresholds())

    return db.run(work)


def test_the_therapist_summary_counts_meetings_only_under_group_attendance(db: Database) -> None:
    therapist = db.make_user("therapist")
    patient = db.make_user("patient", therapist=therapist)
    monday = date(2026, 11, 16)
    add_rows(db, [checkin(patient, monday + timedelta(days=n), 5, 3, support_meeting=kind)
                  for n, kind in enumerate(("aa", "na", "none", "other"))])  # fmt: skip
    shared = _week(db, patient, {"attendance"})
    assert shared.measures["support_meeting"] == 3
    assert ("Support meetings", "3 days with a meeting") in {(r.measure, r.value) for r in summary_rows(shared)}
    private = _week(db, patient, {"mood_sleep", "cravings_triggers", "substance_use"})
    assert "support_meeting" not in private.measures
    assert "Support meetings" not in {r.measure for r in summary_rows(private)}
