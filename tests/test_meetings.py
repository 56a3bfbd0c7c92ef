"""The meeting finder over HTTP on both databases: an admin imports Meeting Guide feeds (tests/fixtures/
meetings_*.json) from a file or an https URL on allowed hosts (the push endpoints' SSRF rules), a re-import
updates by slug without duplicates, a malformed feed names the entry and field and imports nothing, an oversized
one is refused; patients filter by day, time of day, type and region, save favourites and add meetings to their
private calendar feed."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from server.accounts.models import Role, User
from tests.conftest import Database, csrf_token, login, post_form
from tests.support.checkins import field_error

# SQL that differs by dialect (bit masks, bulk updates, booleans, time columns): both databases.
pytestmark = pytest.mark.dialect_sensitive

FIXTURES = Path(__file__).parent / "fixtures"


def upload(client: TestClient, raw: bytes, **data: str) -> Any:
    return client.post("/admin/meetings/upload", data={"_csrf_token": csrf_token(client), **data},
                       files={"feed": ("meetings.json", raw, "application/json")})  # fmt: skip


def fixture(name: str) -> bytes:
    return (FIXTURES / f"meetings_{name}.json").read_bytes()


def meetings(db: Database) -> dict[str, dict[str, Any]]:
    rows = db.run(lambda s: _rows(s))
    return {r["slug"]: r for r in rows}


async def _rows(session: Any) -> list[dict[str, Any]]:
    from sqlalchemy import text

    result = await session.execute(text("SELECT * FROM meeting ORDER BY id"))
    return [dict(r._mapping) for r in result]


@pytest.fixture
def admin(db: Database, client: TestClient) -> User:
    user = db.make_user(Role.ADMIN, "admin@example.org")
    login(client, user.email)
    return user


def test_a_file_imports_every_field_and_a_reimport_updates_by_slug(
    client: TestClient, db: Database, admin: User
) -> None:
    assert client.get("/admin/meetings").status_code == 200
    response = upload(client, fixture("valid"))
    assert response.status_code == 200 and "Imported: 8 new, 0 updated, 0 removed." in response.text
    found = meetings(db)
    assert len(found) == 8
    sunrise = found["serenity-at-sunrise"]
    assert (sunrise["day_mask"], str(sunrise["start_time"])[:5], sunrise["types"]) == (1 << 1, "07:00", ",O,D,")
    assert sunrise["address"] == "12 Elm St, Springfield, IL 62701, USA" and sunrise["region"] == "Downtown"
    assert found["grupo-esperanza"]["day_mask"] == (1 << 2) | (1 << 4)
    assert found["grupo-esperanza"]["region"] == "Springfield > Eastside"
    assert found["tuesday-night-big-book"]["address"] == "400 Oak Ave, Springfield, IL, 62702"
    assert found["phone-any-time"]["day_mask"] == 0 and found["phone-any-time"]["start_time"] is None

    # A patient saved one; the re-import changes it in place, adds one, and keeps the rest (no "remove").
    patient = db.make_user(Role.PATIENT, "pat@example.org")
    db.execute("INSERT INTO meeting_favourite (patient_id, meeting_id, in_calendar, created_at) "
               "VALUES (:p, :m, false, '2026-11-24 00:00:00')", p=patient.id, m=sunrise["id"])  # fmt: skip
    response = upload(client, fixture("reimport"))
    assert "Imported: 1 new, 2 updated, 0 removed." in response.text
    again = meetings(db)
    assert len(again) == 9
    assert again["serenity-at-sunrise"]["id"] == sunrise["id"]
    assert str(again["serenity-at-sunrise"]["start_time"])[:5] == "07:30"
    assert db.scalar("SELECT count(*) FROM meeting_favourite") == 1
    # Importing the same feed again changes nothing in number; "remove" drops what the feed no longer lists.
    response = upload(client, fixture("reimport"), remove_missing="yes")
    assert "Imported: 0 new, 3 updated, 6 removed." in response.text
    assert sorted(meetings(db)) == ["serenity-at-sunrise", "thursday-newcomers", "tuesday-night-big-book"]


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (fixture("malformed"), ["Entry 3", "broken-day", "day"]),
        (b'{"name": "not a list"}', ["JSON list of meetings"]),
        (b"<html>nope</html>", ["isn't a JSON file"]),
        (json.dumps([{"slug": "a", "name": "A", "time": "25:00"}]).encode(), ["Entry 1", "time"]),
        (json.dumps([{"slug": "a", "name": "A"}, {"slug": "a", "name": "B"}]).encode(), ["Entry 2", "slug"]),
        (json.dumps([{"slug": "a"}]).encode(), ["Entry 1", "name", "missing"]),
        (json.dumps([{"slug": "a", "name": "A", "types": "O"}]).encode(), ["Entry 1", "types"]),
        (json.dumps([{"slug": "a", "name": "A", "conference_url": "http://x.org"}]).encode(), ["conference_url"]),
        (json.dumps([{"slug": "a", "name": "A\u0000"}]).encode(), ["Entry 1", "name"]),
    ],
)
def test_a_malformed_feed_names_the_entry_and_field_and_imports_nothing(
    client: TestClient, db: Database, admin: User, raw: bytes, words: list[str]
) -> None:
    upload(client, fixture("valid"))
    response = upload(client, raw)
    assert response.status_code == 422
    message = field_error(response.text, "feed") or ""
    for word in words:
        assert word in message.replace("&#34;", '"').replace("&#39;", "'"), (word, message)
    assert len(meetings(db)) == 8  # nothing partial: the good entries before the bad one aren't imported either
    assert "good-one" not in meetings(db)


def test_an_oversized_feed_is_refused(client: TestClient, db: Database, admin: User) -> None:
    one = {"name": "M", "slug": "s", "day": 1, "time": "19:00", "types": ["O"], "notes": "x" * 1900}
    big = json.dumps([{**one, "slug": f"s{i}"} for i in range(4500)]).encode()
    assert len(big) > 8 * 1024 * 1024
    response = upload(client, big)
    assert response.status_code == 422 and "larger than 8 MB" in (field_error(response.text, "feed") or "")
    assert meetings(db) == {}


class _FeedHandler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[str]:
    _FeedHandler.body = fixture("valid")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FeedHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_url_import_follows_the_push_ssrf_rules(
    client: TestClient, db: Database, admin: User, feed_server: str
) -> None:
    # Hosts: names only, never an address or this machine.
    for bad in ("10.0.0.5", "169.254.169.254", "localhost", "[::1]", "not a host"):
        response = post_form(client, "/admin/meetings/hosts", {"hosts": bad})
        assert response.status_code == 422 and field_error(response.text, "hosts"), bad
    assert (
        post_form(client, "/admin/meetings/hosts", {"hosts": "meetings.example.org\n.intergroup.example"}).status_code
        == 303
    )
    assert "meetings.example.org" in client.get("/admin/meetings").text
    # Not https, a host off the list, credentials in the URL: refused before any request is made.
    for url in ("http://meetings.example.org/feed.json", "https://evil.example/feed.json",
                "https://user:pw@meetings.example.org/feed.json", "file:///etc/passwd"):  # fmt: skip
        response = post_form(client, "/admin/meetings/url", {"url": url})
        assert response.status_code == 422 and "only over https" in (field_error(response.text, "url") or ""), url
    # The test-only loopback setting lets this machine's feed server stand in for an allowed host.
    response = post_form(client, "/admin/meetings/url", {"url": f"{feed_server}/feed.json"})
    assert response.status_code == 200 and "Imported: 8 new" in response.text
    # A redirect is not followed (it could lead anywhere).
    response = post_form(client, "/admin/meetings/url", {"url": f"{feed_server}/moved"})
    assert response.status_code == 422 and "answered 302" in (field_error(response.text, "url") or "")
    assert len(meetings(db)) == 8


def test_other_roles_cannot_import(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "pat@example.org")
    login(client, patient.email)
    assert client.get("/admin/meetings").status_code in (401, 403)
    assert upload(client, fixture("valid")).status_code in (401, 403)
    assert meetings(db) == {}


def _import_as_admin(client: TestClient, db: Database, raw: bytes, clinic_id: int | None = None) -> None:
    admin = db.make_user(Role.ADMIN, clinic_id=clinic_id)
    login(client, admin.email)
    assert upload(client, raw).status_code == 200
    client.cookies.clear()


def names_on(page: str) -> list[str]:
    import html
    import re

    return [html.unescape(n) for n in re.findall(r'<li class="card" id="meeting-\d+">\s*<h3>([^<]+)</h3>', page)]


def test_patients_filter_by_day_time_type_and_region(client: TestClient, db: Database) -> None:
    _import_as_admin(client, db, fixture("valid"))
    patient = db.make_user(Role.PATIENT, "pat@example.org")
    login(client, patient.email)
    everything = client.get("/meetings")
    assert everything.status_code == 200 and len(names_on(everything.text)) == 8
    # Tuesday (Meeting Guide day 2): the Big Book meeting and Grupo Esperanza (Tuesdays and Thursdays).
    assert sorted(names_on(client.get("/meetings?day=2").text)) == ["Grupo Esperanza", "Tuesday Night Big Book"]
    assert names_on(client.get("/meetings?day=4").text) == ["Grupo Esperanza"]
    morning = names_on(client.get("/meetings?time=morning").text)
    assert morning == ["Serenity at Sunrise", "Refuge Recovery Sunday"]  # by start time: 07:00, 10:00
    assert names_on(client.get("/meetings?time=night").text) == ["Men's Step Study"]  # 21:30
    assert names_on(client.get("/meetings?time=afternoon").text) == ["SMART Recovery Online", "Young People's Meeting"]
    assert sorted(names_on(client.get("/meetings?type=ONL").text)) == [
        "Any Time Phone Meeting",
        "SMART Recovery Online",
    ]
    assert names_on(client.get("/meetings?type=S").text) == ["Grupo Esperanza"]
    assert names_on(client.get("/meetings?type=W").text) == ["Tuesday Night Big Book"]
    assert names_on(client.get("/meetings?type=M").text) == ["Men's Step Study"]
    assert sorted(names_on(client.get("/meetings?region=Westside").text)) == ["Tuesday Night Big Book",
                                                                              "Young People's Meeting"]  # fmt: skip
    assert names_on(client.get("/meetings?day=2&time=evening&type=C&region=Westside").text) == [
        "Tuesday Night Big Book"
    ]
    assert names_on(client.get("/meetings?day=1&type=S").text) == []
    # Out-of-bounds filters are a 422 that says which, never a 500.
    for query in ("day=7", "day=-1", "day=x", "time=noonish", "type=%3Cscript%3E", "region=" + "r" * 300):
        assert client.get(f"/meetings?{query}").status_code == 422, query


def test_favourites_and_the_calendar_feed(client: TestClient, db: Database) -> None:
    _import_as_admin(client, db, fixture("valid"))
    other_clinic = db.make_clinic("Elsewhere", clinic_id=2)
    _import_as_admin(client, db, fixture("reimport"), clinic_id=other_clinic.id)
    patient = db.make_user(Role.PATIENT, "pat@example.org")
    login(client, patient.email)
    ids = {row["slug"]: row["id"] for row in db.run(_rows) if row["clinic_id"] == 1}
    theirs = next(row["id"] for row in db.run(_rows) if row["clinic_id"] == other_clinic.id)
    # Someone else's clinic's meeting looks like no meeting at all.
    assert post_form(client, f"/meetings/{theirs}/favourite", {"on": "yes"}).status_code == 404
    assert post_form(client, "/meetings/2147483648/favourite", {"on": "yes"}).status_code == 404

    response = post_form(client, f"/meetings/{ids['tuesday-night-big-book']}/favourite",
                         {"on": "yes", "back": "/meetings?day=2"})  # fmt: skip
    assert response.status_code == 303 and response.headers["location"].startswith("/meetings?day=2&notice=favourite")
    # A "back" address elsewhere is ignored.
    response = post_form(
        client, f"/meetings/{ids['grupo-esperanza']}/calendar", {"on": "yes", "back": "//evil.example"}
    )
    assert response.headers["location"].startswith("/meetings?notice=calendar")
    page = client.get("/meetings").text
    mine = page[page.index("My meetings") : page.index("Filter")]
    assert "Tuesday Night Big Book" in mine and "Grupo Esperanza" in mine  # the calendar one is saved too
    assert "Take Grupo Esperanza out of my calendar" in page

    # The private calendar feed carries the calendar meeting on its days (Tuesdays and Thursdays), not the other.
    assert post_form(client, "/schedule/calendar").status_code == 303
    feed_url = client.get("/schedule").text.split('id="feed_url"')[1].split('value="')[1].split('"')[0]
    ics = client.get(feed_url[feed_url.index("/calendar/") :]).text
    assert "SUMMARY:Grupo Esperanza" in ics and "Tuesday Night Big Book" not in ics
    assert f"UID:m{ids['grupo-esperanza']}-20261124@" in ics  # Tuesday 24 November, 18:00 in New York
    assert "DTSTART:20261124T230000Z" in ics
    assert f"UID:m{ids['grupo-esperanza']}-20261126@" in ics
    assert f"UID:m{ids['grupo-esperanza']}-20261125@" not in ics
    # Off again.
    post_form(client, f"/meetings/{ids['grupo-esperanza']}/calendar", {"on": "no"})
    assert "Grupo Esperanza" not in client.get(feed_url[feed_url.index("/calendar/") :]).text
    post_form(client, f"/meetings/{ids['tuesday-night-big-book']}/favourite", {"on": "no"})
    assert db.scalar("SELECT count(*) FROM meeting_favourite WHERE in_calendar = true") == 0
