"""Celebration moments on Today (issue 15): shown on the day a sober-days milestone is reached, in the same steps
the family hears, and not on the days between."""

from __future__ import annotations

from datetime import timedelta

import pytest
from litestar.testing import TestClient

from server.family.rules import add_months
from tests.conftest import Database, login
from tests.support.family import set_sober_since, today_of


@pytest.mark.parametrize(
    ("back", "headline"),
    [(1, "1 day sober today"), (30, "30 days sober today"), ("6m", "6 months sober today"), (31, None), (0, None)],
)
def test_today_celebrates_a_milestone_reached_today(
    client: TestClient, db: Database, back: int | str, headline: str | None
) -> None:
    patient = db.make_user("patient", "today@example.org", name="Robin")
    today = today_of(patient)
    started = add_months(today, -6) if back == "6m" else today - timedelta(days=int(back))
    set_sober_since(db, patient, started)
    login(client, patient.email)
    html = client.get("/today").text
    assert "<title>Today · Steady</title>" in html
    if headline is None:
        assert 'class="card celebrate"' not in html
    else:
        assert 'class="card celebrate"' in html and f'id="celebrate-h" class="celebrate-headline">{headline}<' in html
