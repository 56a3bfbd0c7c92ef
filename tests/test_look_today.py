"""Celebration moments on Today (issue 15): shown on the day a sober-days milestone is reached, in the same steps
the family hears, and not on the days between."""

from __future__ import annotations

import re
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


def test_the_tab_bar_marks_the_section_a_page_belongs_to(client: TestClient, db: Database) -> None:
    """The patient's tab bar is rendered once per language and section and shared (`remembered`): each page still
    marks its own tab (a skill card is under Skills), a page outside the tabs marks none, in the person's language."""
    patient = db.make_user("patient")
    login(client, patient.email)
    card = re.search(r'href="(/skills/[a-z-]+)"', client.get("/skills").text).group(1)  # type: ignore[union-attr]
    tabs = [("/today", "Today"), ("/skills", "Skills"), (card, "Skills"), ("/log", "Log"), ("/progress", "Progress"),
            ("/more", "More"), ("/crisis", None), ("/today", "Today")]  # fmt: skip
    for path, current in tabs:
        nav = client.get(path).text.split('<nav class="bottom-nav"', 1)[1].split("</nav>", 1)[0]
        marked = re.findall(r'aria-current="page">\s*<svg.*?<span>([^<]+)</span>', nav, re.S)
        assert marked == ([current] if current else []), (path, marked)
    db.execute("UPDATE user_account SET locale = 'es' WHERE id = :id", id=patient.id)
    nav = client.get("/skills").text.split('<nav class="bottom-nav"', 1)[1]
    assert "<span>Hoy</span>" in nav and "<span>Today</span>" not in nav
