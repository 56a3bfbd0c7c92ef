"""The offline queue's replay protocol over real HTTP (the browser side: tests/browser/test_offline_replay_browser.py):
an entry is acknowledged only by 200 + X-Steady-Recorded naming its key; a replay after the session ended is
not acknowledged; /session/offline gives the owner and a CSRF token valid now; sign-out wipes the phone's storage
only when the page said nothing waits or the person chose to delete it. SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from litestar.testing import TestClient

from server.web.replay import offline_owner
from tests.conftest import Database, csrf_token, login, post_form
from tests.support.checkins import checkin_data, count, craving_data, signed_in_patient

REPLAY = {"X-Steady-Replay": "1"}


def test_every_queueable_form_acknowledges_its_key_and_only_a_replay_gets_the_acknowledgement(
    client: TestClient, db: Database
) -> None:
    signed_in_patient(client, db)
    checkin, craving = checkin_data(), craving_data()
    key = "c0ffee00-1111-4222-8333-444455556666"
    practice = {"distress_before": "7", "distress_after": "4", "idempotency_key": key}
    for url, data in (("/checkin", checkin), ("/cravings", craving), ("/skills/urge-surfing/practice", practice)):
        replayed = post_form(client, url, data, headers=REPLAY)
        assert replayed.status_code == 200, (url, replayed.text[:300])
        assert replayed.headers["x-steady-recorded"] == data["idempotency_key"]
        assert replayed.json() == {"recorded": data["idempotency_key"]}
        assert replayed.headers["cache-control"] == "no-store"
        again = post_form(client, url, data, headers=REPLAY)  # recorded before: the same acknowledgement
        assert (again.status_code, again.headers["x-steady-recorded"]) == (200, data["idempotency_key"])
        person = post_form(client, url, data)  # a person (not the queue) gets the usual redirect
        assert person.status_code == 303 and "x-steady-recorded" not in person.headers
    assert db.scalar("SELECT count(*) FROM checkin") == 1
    assert db.scalar("SELECT count(*) FROM craving_log") == 1
    assert db.scalar("SELECT count(*) FROM skill_practice") == 1


def test_refused_content_is_a_422_and_never_an_acknowledgement(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    refused = post_form(client, "/checkin", checkin_data(mood="12"), headers=REPLAY)
    assert refused.status_code == 422 and "x-steady-recorded" not in refused.headers
    assert count(db, "checkin", user) == 0


def test_a_replay_after_the_session_ended_is_not_acknowledged(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    db.execute("DELETE FROM user_session")  # "sign out my other devices" from another phone, or it expired
    data = checkin_data()
    answer = post_form(client, "/checkin", data, headers=REPLAY)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert "x-steady-recorded" not in answer.headers
    assert count(db, "checkin", user) == 0
    # Signed in again, the same entry goes through and is acknowledged.
    login(client, user.email)
    sent = post_form(client, "/checkin", data, headers=REPLAY)
    assert (sent.status_code, sent.headers["x-steady-recorded"]) == (200, data["idempotency_key"])


def test_session_offline_names_the_owner_and_hands_out_a_token_that_works_now(
    client: TestClient, db: Database, settings: object
) -> None:
    anonymous = client.get("/session/offline")
    assert anonymous.json()["signed_in"] is False and anonymous.json()["owner"] == ""
    assert anonymous.headers["cache-control"] == "no-store"

    sam = signed_in_patient(client, db)
    answer = client.get("/session/offline").json()
    owner = offline_owner(settings.secret_key, sam.id)  # type: ignore[attr-defined]
    assert answer == {"signed_in": True, "owner": owner, "csrf": answer["csrf"]}
    assert f'data-owner="{owner}"' in client.get("/today").text
    assert len(owner) == 32 and sam.email not in owner  # an HMAC: opaque on the phone

    # A browser restart loses the CSRF cookie; the token from /session/offline makes a replay work again.
    client.cookies.delete("csrftoken")
    fresh = client.get("/session/offline").json()["csrf"]
    data = checkin_data()
    sent = client.post("/checkin", data=data, headers={**REPLAY, "x-csrftoken": fresh}, follow_redirects=False)
    assert (sent.status_code, sent.headers["x-steady-recorded"]) == (200, data["idempotency_key"])

    # Another person on the same phone gets another owner name: the queue never sends Sam's entries as theirs.
    client.cookies.clear()
    kim = db.make_user("patient", "kim@example.org")
    login(client, kim.email)
    assert client.get("/session/offline").json()["owner"] not in ("", owner)


def test_sign_out_wipes_the_phone_only_when_nothing_waits_or_the_person_chose(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    cases = {"": '"cache"', "empty": '"cache", "storage"', "discarded": '"cache", "storage"', "junk": '"cache"'}
    for queue_state, wipe in cases.items():
        login(client, user.email)
        out = post_form(client, "/logout", {"queue": queue_state})
        assert out.status_code == 303 and out.headers["clear-site-data"] == wipe, queue_state


def test_a_csrf_refusal_is_logged_with_its_real_status(
    client: TestClient, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    signed_in_patient(client, db)
    with caplog.at_level(logging.INFO, logger="steady.http"):
        refused = client.post("/checkin", data=checkin_data(), headers={"x-csrftoken": "stale"}, follow_redirects=False)
    assert refused.status_code == 403
    [line] = [r for r in caplog.records if r.name == "steady.http" and getattr(r, "path", "") == "/checkin"]
    assert line.status == 403  # type: ignore[attr-defined]


def test_signing_in_rotates_the_csrf_token(client: TestClient, db: Database) -> None:
    """A token held (or planted) before sign-in stops working once the person signs in."""
    user = db.make_user("patient", "rot@example.org")
    before = client.cookies.get("csrftoken") or (client.get("/login") and client.cookies["csrftoken"])
    signed_in = login(client, user.email)
    assert 'csrftoken=""' in signed_in.headers.get("set-cookie", "") or "csrftoken" not in client.cookies
    client.get("/today")
    after = client.cookies["csrftoken"]
    assert after != before
    stale = client.post("/checkin", data=checkin_data(), headers={"x-csrftoken": before}, follow_redirects=False)
    assert stale.status_code == 403
    fresh = client.post("/checkin", data=checkin_data(), headers={"x-csrftoken": after}, follow_redirects=False)
    assert fresh.status_code == 303


def test_over_https_the_csrf_cookie_is_host_only(db: Database, settings: object) -> None:
    from server.app import create_app
    from server.settings import Settings

    base: Settings = settings  # type: ignore[assignment]
    secure = Settings.from_env({**base.env, "BASE_URL": "https://steady.example.org"}, migrate_on_start=False,
                               run_dispatcher_in_app=False)  # fmt: skip
    with TestClient(create_app(secure), base_url="https://steady.example.org") as https_client:
        cookie = https_client.get("/login").headers["set-cookie"]
    assert cookie.startswith("__Host-csrftoken=") and "Secure" in cookie and "Path=/" in cookie


def _sent_with(client: TestClient, cookies: dict[str, str], method: str, url: str, **kwargs: Any) -> Any:
    """A request carrying only `cookies`, as one sent before the browser stored what other answers set; the client's
    cookies are left as they were."""
    kept = dict(client.cookies.items())
    client.cookies.clear()
    for name, value in cookies.items():
        client.cookies.set(name, value)
    try:
        return client.request(method, url, follow_redirects=False, **kwargs)
    finally:
        client.cookies.clear()
        for name, value in kept.items():
            client.cookies.set(name, value)


def test_answers_that_render_no_form_never_replace_the_sign_in_pages_token(client: TestClient, db: Database) -> None:
    """Cookies cleared, the sign-in page is loaded; a request sent before the browser stored that page's token (the
    service worker's replay, its update check, a file) must not set another, or the sign-in fails as expired."""
    user = db.make_user("patient", "cleared@example.org")
    client.cookies.clear()
    page_token = csrf_token(client)  # the sign-in page's own, in its form and its cookie
    for url in ("/session/offline", "/sw.js", "/manifest.webmanifest", "/static/css/app.css"):
        answer = _sent_with(client, {}, "GET", url)
        assert answer.status_code == 200 and "csrftoken" not in answer.cookies, url
    assert _sent_with(client, {}, "GET", "/session/offline").json()["csrf"] is None
    assert client.cookies["csrftoken"] == page_token
    assert login(client, user.email).status_code == 303


def test_a_signed_in_browser_without_the_csrf_cookie_gets_one_token_from_every_answer(
    client: TestClient, db: Database
) -> None:
    """After a browser restart (the CSRF cookie gone, the sign-in kept), the first page and the service worker's
    replay go out together without it: both answers set the same token, so the page's forms still work."""
    signed_in_patient(client, db)
    session = {name: value for name, value in client.cookies.items() if name != "csrftoken"}
    page = _sent_with(client, session, "GET", "/checkin")
    replay = _sent_with(client, session, "GET", "/session/offline")
    set_by_page = page.cookies["csrftoken"]
    assert replay.cookies["csrftoken"] == set_by_page == replay.json()["csrf"]
    assert f'value="{set_by_page}"' in page.text  # the form's hidden field
    for with_cookie in (session, {**session, "csrftoken": set_by_page}):
        sent = _sent_with(client, with_cookie, "POST", "/checkin", data={**checkin_data(), "_csrf_token": set_by_page})
        assert sent.status_code == 303, sent.text[:300]
    # Still a check: no token, or a token that is not this session's, is refused.
    assert _sent_with(client, session, "POST", "/checkin", data=checkin_data()).status_code == 403
    planted = {**checkin_data(), "_csrf_token": csrf_token(TestClient(client.app))}
    assert _sent_with(client, session, "POST", "/checkin", data=planted).status_code == 403
