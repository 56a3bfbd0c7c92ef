"""Issue 15 #4: "Stop counting" asks first (a page that works without JavaScript) and offers undo afterwards."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from server.accounts.models import Role
from tests.conftest import Database, login, post_form

pytestmark = pytest.mark.dialect_sensitive  # dates stored and compared on both databases


def test_stop_counting_asks_first_and_can_be_undone(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "sam@example.org", name="Sam")
    other = db.make_user(Role.PATIENT, "jo@example.org", name="Jo")
    login(client, patient.email)
    assert post_form(client, "/sober", {"started_on": "2026-09-01", "substance": "alcohol"}).status_code == 303
    counter_id = db.scalar("SELECT id FROM sobriety_date WHERE user_id = :u", u=patient.id)

    page = client.get("/sober")
    assert f'action="/sober/{counter_id}/delete"' not in page.text  # no one-tap delete on the page any more
    assert f'href="/sober/{counter_id}/stop"' in page.text

    # A POST without the confirmation (an old page, a stray tap) deletes nothing and asks.
    response = post_form(client, f"/sober/{counter_id}/delete", {})
    assert response.status_code == 303 and response.headers["location"] == f"/sober/{counter_id}/stop"
    assert db.scalar("SELECT count(*) FROM sobriety_date") == 1

    confirm = client.get(f"/sober/{counter_id}/stop")
    assert confirm.status_code == 200
    assert "Stop counting alcohol?" in confirm.text and "84 days" in confirm.text
    assert "Keep counting" in confirm.text
    assert client.get("/sober/999999/stop").status_code == 404

    response = post_form(client, f"/sober/{counter_id}/delete", {"confirm": "yes"})
    assert response.status_code == 303
    assert db.scalar("SELECT count(*) FROM sobriety_date") == 0
    after = client.get(response.headers["location"])
    assert "You stopped counting alcohol." in after.text
    assert 'action="/sober/undo"' in after.text and "Undo" in after.text

    undone = post_form(client, "/sober/undo", {"substance": "alcohol", "started_on": "2026-09-01"})
    assert undone.status_code == 303
    assert db.scalar("SELECT started_on FROM sobriety_date WHERE user_id = :u", u=patient.id) in (
        "2026-09-01",
        __import__("datetime").date(2026, 9, 1),
    )
    assert "Your count is back." in client.get(undone.headers["location"]).text
    # Undo never moves a count that exists again, and bad input is a 422, never a 500.
    assert post_form(client, "/sober/undo", {"substance": "alcohol", "started_on": "2026-10-01"}).status_code == 303
    assert str(db.scalar("SELECT started_on FROM sobriety_date WHERE user_id = :u", u=patient.id)) == "2026-09-01"
    assert post_form(client, "/sober/undo", {"substance": "x" * 200, "started_on": "nope"}).status_code == 422

    # Someone else's counter: 404 on both steps.
    client.cookies.clear()
    login(client, other.email)
    counter_id = db.scalar("SELECT id FROM sobriety_date WHERE user_id = :u", u=patient.id)
    assert client.get(f"/sober/{counter_id}/stop").status_code == 404
    assert post_form(client, f"/sober/{counter_id}/delete", {"confirm": "yes"}).status_code == 404
    assert db.scalar("SELECT count(*) FROM sobriety_date") == 1
