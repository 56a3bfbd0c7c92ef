"""Accounts end to end over real HTTP: setup, invites, sign-in, sessions, CSRF, guards, deletion."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import Role
from server.accounts.passwords import password_problem
from server.accounts.sessions import token_hash
from tests.conftest import PASSWORD, Database, csrf_token, htmx_post, login, post_form

SETUP = {
    "clinic_name": "Harbor Recovery",
    "timezone": "America/Chicago",
    "name": "Alex",
    "email": "Alex@Example.org",
    "password": "a calm blue lake",
}


def test_setup_creates_one_admin_then_disappears(client: TestClient, db: Database) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/setup"
    page = client.get("/setup")
    assert page.status_code == 200 and "Welcome" in page.text

    response = post_form(client, "/setup", SETUP)
    assert response.status_code == 303 and response.headers["location"] == "/admin"
    assert db.scalar("SELECT count(*) FROM user_account") == 1
    assert db.scalar("SELECT role FROM user_account") == "admin"
    assert db.scalar("SELECT email FROM user_account") == "alex@example.org"
    assert db.scalar("SELECT timezone FROM clinic") == "America/Chicago"

    assert client.get("/setup").status_code == 404
    again = post_form(client, "/setup", {**SETUP, "email": "mallory@example.org"})
    assert again.status_code == 404
    assert db.scalar("SELECT count(*) FROM user_account") == 1


def test_setup_rejects_bad_input_inline_and_keeps_values(client: TestClient, db: Database) -> None:
    response = post_form(client, "/setup", {**SETUP, "password": "password", "email": "not-an-email"})
    assert response.status_code == 422
    assert 'id="password-error"' in response.text and "most common" in response.text
    assert 'id="email-error"' in response.text
    assert 'value="Harbor Recovery"' in response.text  # what was typed stays
    assert 'value="password"' not in response.text  # passwords are never echoed back
    assert db.scalar("SELECT count(*) FROM user_account") == 0


@pytest.mark.parametrize(
    ("password", "ok"),
    [("short", False), ("iloveyou", False), ("Password1", False), ("a calm blue lake", True), ("x" * 64, True)],
)
def test_password_policy(password: str, ok: bool) -> None:
    assert (password_problem(password) is None) is ok


def _invite(client: TestClient, role: str) -> str:
    response = post_form(client, "/invites", {"role": role, "note": "for a test"})
    assert response.status_code == 201, response.text
    start = response.text.index('class="invite-code"><strong>') + len('class="invite-code"><strong>')
    return response.text[start : response.text.index("</strong>", start)]


def _join(client: TestClient, code: str, email: str, **extra: str) -> object:
    data = {"code": code, "name": "New person", "email": email, "password": PASSWORD, "timezone": "America/Denver"}
    data.update(extra)
    return post_form(client, "/join", data)


def test_invites_set_the_role_are_single_use_and_link_the_care_team(
    client: TestClient, db: Database, other_app: Any
) -> None:
    therapist = db.make_user(Role.THERAPIST, "t@example.org")
    login(client, therapist.email)
    code = _invite(client, "patient")
    assert db.scalar("SELECT count(*) FROM invite WHERE code_hash LIKE '%'") == 1
    assert db.scalar("SELECT count(*) FROM invite WHERE code_hash = :c", c=code) == 0  # only a hash is stored

    with TestClient(app=other_app, base_url="http://127.0.0.1:8000") as newcomer:
        joined = _join(newcomer, code.lower().replace("-", " "), "pat@example.org")
        assert joined.status_code == 303 and joined.headers["location"] == "/today"
        assert newcomer.get("/today").status_code == 200
    assert db.scalar("SELECT role FROM user_account WHERE email='pat@example.org'") == "patient"
    assert db.scalar("SELECT timezone FROM user_account WHERE email='pat@example.org'") == "America/Denver"
    assert db.scalar("SELECT count(*) FROM care_team WHERE therapist_id=:t", t=therapist.id) == 1

    with TestClient(app=other_app, base_url="http://127.0.0.1:8000") as second:
        reused = _join(second, code, "other@example.org")
        assert reused.status_code == 422 and 'id="code-error"' in reused.text and "valid any more" in reused.text
    assert db.scalar("SELECT count(*) FROM user_account WHERE email='other@example.org'") == 0


def test_expired_invite_is_refused(client: TestClient, db: Database, other_app: Any) -> None:
    admin = db.make_user(Role.ADMIN, "a@example.org")
    login(client, admin.email)
    code = _invite(client, "therapist")
    db.execute("UPDATE invite SET expires_at = :t", t=_utc_ago(hours=1))
    with TestClient(app=other_app, base_url="http://127.0.0.1:8000") as newcomer:
        response = _join(newcomer, code, "late@example.org")
    assert response.status_code == 422 and 'id="code-error"' in response.text
    assert db.scalar("SELECT count(*) FROM user_account") == 1


def test_who_may_invite_whom(client: TestClient, db: Database) -> None:
    therapist = db.make_user(Role.THERAPIST, "t@example.org")
    login(client, therapist.email)
    assert post_form(client, "/invites", {"role": "therapist"}).status_code == 403
    assert post_form(client, "/invites", {"role": "admin"}).status_code == 403
    assert post_form(client, "/invites", {"role": "wizard"}).status_code == 422
    assert db.scalar("SELECT count(*) FROM invite") == 0


def test_join_with_unknown_code_keeps_what_was_typed(client: TestClient) -> None:
    response = _join(client, "ZZZZ-ZZZZ-ZZZZ", "someone@example.org", name="Maria José")
    assert response.status_code == 422
    assert 'value="Maria José"' in response.text and 'value="someone@example.org"' in response.text


def test_login_logout_and_wrong_password(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "p@example.org")
    wrong = post_form(client, "/login", {"email": patient.email, "password": "not my password"})
    unknown = post_form(client, "/login", {"email": "nobody@example.org", "password": "whatever123"})
    for response in (wrong, unknown):
        assert response.status_code == 422 and "Wrong email or password." in response.text

    response = login(client, "P@Example.org")
    assert response.headers["location"] == "/today"
    assert client.get("/today").status_code == 200
    token = client.cookies["steady_session"]

    out = post_form(client, "/logout", {"queue": "empty"})  # the page checked: nothing waits to be sent
    assert out.status_code == 303
    assert '"storage"' in out.headers["clear-site-data"]
    assert db.scalar("SELECT count(*) FROM user_session") == 0
    client.cookies.set("steady_session", token)  # the old token is dead server-side
    assert client.get("/today", follow_redirects=False).headers["location"].startswith("/login")


def test_login_redirects_only_to_local_paths(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "p@example.org")
    good = post_form(client, "/login", {"email": patient.email, "password": PASSWORD, "next": "/more"})
    assert good.headers["location"] == "/more"
    post_form(client, "/logout")
    evil = post_form(client, "/login", {"email": patient.email, "password": PASSWORD, "next": "//evil.example"})
    assert evil.headers["location"] == "/today"


def test_throttling_per_account_with_a_clear_message(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "p@example.org")
    for _ in range(5):
        post_form(client, "/login", {"email": patient.email, "password": "wrong password"})
    blocked = post_form(client, "/login", {"email": patient.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "try again in 15 minutes" in blocked.text
    assert "steady_session" not in blocked.cookies
    # Another account from the same address is not locked by this one's failures.
    other = db.make_user(Role.PATIENT, "q@example.org")
    assert login(client, other.email).status_code == 303


def test_throttling_per_address(client: TestClient, db: Database) -> None:
    for i in range(20):
        post_form(client, "/login", {"email": f"guess{i}@example.org", "password": "wrong password"})
    patient = db.make_user(Role.PATIENT, "p@example.org")
    blocked = post_form(client, "/login", {"email": patient.email, "password": PASSWORD})
    assert blocked.status_code == 429


def test_a_session_id_planted_before_login_is_never_used(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "p@example.org")
    planted = "attacker-chosen-session-value-1234567890"
    client.cookies.set("steady_session", planted)
    response = login(client, patient.email)
    issued = response.cookies["steady_session"]
    assert issued != planted
    assert db.scalar("SELECT count(*) FROM user_session WHERE id = :h", h=token_hash(planted)) == 0
    assert client.get("/today").status_code == 200
    # The attacker's copy of the planted value gets nowhere.
    client.cookies.clear()
    client.cookies.set("steady_session", planted)
    assert client.get("/today", follow_redirects=False).status_code == 303


def test_login_over_an_existing_session_replaces_it(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "p@example.org")
    first = login(client, patient.email).cookies["steady_session"]
    second = login(client, patient.email).cookies["steady_session"]
    assert first != second
    assert db.scalar("SELECT count(*) FROM user_session") == 1
    assert db.scalar("SELECT id FROM user_session") == token_hash(second)


def test_password_change_rotates_the_session_and_signs_out_other_devices(
    client: TestClient, db: Database, other_app: Any
) -> None:
    patient = db.make_user(Role.PATIENT, "p@example.org")
    with TestClient(app=other_app, base_url="http://127.0.0.1:8000") as other_device:
        login(other_device, patient.email)
        before = login(client, patient.email).cookies["steady_session"]
        response = post_form(
            client, "/account/password", {"current_password": PASSWORD, "new_password": "a different calm lake"}
        )
        assert response.status_code == 303
        after = response.cookies["steady_session"]
        assert after != before
        assert other_device.get("/today", follow_redirects=False).status_code == 303
    assert client.get("/today").status_code == 200
    assert db.scalar("SELECT count(*) FROM user_session") == 1


def test_wrong_current_password_is_shown_inline(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "p@example.org")
    login(client, patient.email)
    response = post_form(client, "/account/password", {"current_password": "nope", "new_password": "x" * 12})
    assert response.status_code == 422 and 'id="current_password-error"' in response.text


def test_sign_out_other_devices(client: TestClient, db: Database, other_app: Any) -> None:
    patient = db.make_user(Role.PATIENT, "p@example.org")
    with TestClient(app=other_app, base_url="http://127.0.0.1:8000") as phone:
        login(phone, patient.email)
        login(client, patient.email)
        assert post_form(client, "/account/devices/sign-out-others").status_code == 303
        assert phone.get("/today", follow_redirects=False).status_code == 303
    assert client.get("/today").status_code == 200


def test_staff_sessions_time_out_when_idle(client: TestClient, db: Database) -> None:
    therapist = db.make_user(Role.THERAPIST, "t@example.org")
    login(client, therapist.email)
    assert client.get("/therapist").status_code == 200
    assert db.scalar("SELECT idle_seconds FROM user_session") == 30 * 60
    db.execute("UPDATE user_session SET last_seen_at = :t", t=_utc_ago(minutes=31))
    assert client.get("/therapist", follow_redirects=False).headers["location"].startswith("/login")
    assert db.scalar("SELECT count(*) FROM user_session") == 0


def test_sessions_end_at_their_absolute_lifetime(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "p@example.org")
    login(client, patient.email)
    assert db.scalar("SELECT idle_seconds FROM user_session") > 30 * 60  # patients idle longer on their own phone
    db.execute("UPDATE user_session SET expires_at = :t", t=_utc_ago(minutes=1))
    assert client.get("/today", follow_redirects=False).status_code == 303


def test_csrf_is_required_for_forms_and_htmx(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "p@example.org")
    login(client, patient.email)
    csrf_token(client)
    no_token = client.post("/account/profile", data={"name": "X", "timezone": "UTC", "locale": "en"})
    assert no_token.status_code == 403
    htmx_without_header = client.post(
        "/account/profile", data={"name": "X", "timezone": "UTC", "locale": "en"}, headers={"HX-Request": "true"}
    )
    assert htmx_without_header.status_code == 403
    assert db.scalar("SELECT display_name FROM user_account") != "X"
    htmx_ok = htmx_post(client, "/account/profile", {"name": "X", "timezone": "UTC", "locale": "en"})
    assert htmx_ok.status_code == 200
    assert json.loads(htmx_ok.headers["hx-location"])["path"] == "/account?notice=profile"
    assert db.scalar("SELECT display_name FROM user_account") == "X"


ROLE_PAGES = {"admin": "/admin", "therapist": "/therapist", "patient": "/today", "family": "/family"}


@pytest.mark.parametrize("role", list(ROLE_PAGES))
def test_each_role_is_kept_out_of_the_others_pages(client: TestClient, db: Database, role: str) -> None:
    user = db.make_user(role)
    login(client, user.email)
    for other_role, page in ROLE_PAGES.items():
        status = client.get(page, follow_redirects=False).status_code
        assert status == (200 if other_role == role else 403), (role, page, status)


def test_anonymous_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    for page in [*ROLE_PAGES.values(), "/account", "/invites", "/more"]:
        response = client.get(page, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/login?next={page}"
    htmx = client.get("/today", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"] == "/login?next=/today"


def test_security_and_privacy_headers(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "p@example.org")
    login(client, patient.email)
    page = client.get("/today")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "camera=()" in page.headers["permissions-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert "HX-Request" in page.headers["vary"]
    assert "strict-transport-security" not in page.headers  # only over https
    assert '"historyCacheSize":0' in page.text and '"allowEval":false' in page.text
    assert "hx-headers" in page.text and csrf_token(client) in page.text

    static = client.get("/static/css/app.css?v=1")
    assert "max-age=31536000" in static.headers["cache-control"]
    assert static.headers["content-security-policy"] == csp
    sw = client.get("/sw.js")
    assert sw.headers["cache-control"] == "no-cache" and sw.headers["service-worker-allowed"] == "/"
    assert "__SHELL_VERSION__" not in sw.text and "/static/vendor/htmx.min.js?v=" in sw.text


def test_https_deployments_get_secure_cookies_and_hsts(app_factory: object, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "p@example.org")
    app = app_factory(base_url="https://steady.example.org")
    with TestClient(app=app, base_url="https://steady.example.org") as client:
        response = post_form(client, "/login", {"email": patient.email, "password": PASSWORD})
        cookie = response.headers["set-cookie"]
        assert "__Host-steady_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "max-age=63072000" in client.get("/login").headers["strict-transport-security"]


def test_patient_deletes_their_account_and_every_row_goes(client: TestClient, db: Database) -> None:
    therapist = db.make_user(Role.THERAPIST, "t@example.org")
    patient = db.make_user(Role.PATIENT, "p@example.org", therapist=therapist)
    db.make_user(Role.FAMILY, "f@example.org", patient=patient)
    login(client, patient.email)
    refused = post_form(client, "/account/delete", {"password": PASSWORD, "confirm": "maybe"})
    assert refused.status_code == 422 and 'id="confirm-error"' in refused.text
    wrong = post_form(client, "/account/delete", {"password": "nope", "confirm": "DELETE"})
    assert wrong.status_code == 422 and 'id="password-error"' in wrong.text
    assert db.scalar("SELECT count(*) FROM user_account WHERE id=:i", i=patient.id) == 1

    done = post_form(client, "/account/delete", {"password": PASSWORD, "confirm": "delete"})
    assert done.status_code == 303 and done.headers["location"] == "/login?deleted=1"
    assert db.scalar("SELECT count(*) FROM user_account WHERE id=:i", i=patient.id) == 0
    for table in ("user_session", "care_team", "family_link"):
        assert db.scalar(f"SELECT count(*) FROM {table} WHERE patient_id=:i", i=patient.id) == 0 if table != (
            "user_session"
        ) else db.scalar("SELECT count(*) FROM user_session WHERE user_id=:i", i=patient.id) == 0
    assert db.scalar("SELECT count(*) FROM user_account WHERE id=:i", i=therapist.id) == 1


def test_the_only_admin_cannot_delete_themselves(client: TestClient, db: Database) -> None:
    admin = db.make_user(Role.ADMIN, "a@example.org")
    login(client, admin.email)
    response = post_form(client, "/account/delete", {"password": PASSWORD, "confirm": "DELETE"})
    assert response.status_code == 422 and "only admin" in response.text


def test_language_follows_the_account(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "p@example.org")
    login(client, patient.email)
    htmx_post(client, "/account/profile", {"name": "Sam", "timezone": "America/New_York", "locale": "es"})
    assert '<html lang="es">' in client.get("/today").text


def _utc_ago(**delta: float) -> object:
    from server.db import utcnow

    return utcnow() - timedelta(**delta)


def test_production_password_hash_parameters() -> None:
    """The suite cheapens argon2 for speed; a fresh interpreter shows what production uses (OWASP floor or above)."""
    import subprocess
    import sys

    code = "from server.accounts.passwords import hash_password; print(hash_password('x' * 12))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("$argon2id$v=19$m=32768,t=3,p=1$"), out


def test_strangers_failing_from_other_addresses_never_lock_the_owner_out(db: Database, settings: Any) -> None:
    """Five wrong passwords from any address used to lock the account, the right password included. Now
    failures from elsewhere only slow sign-in down; the pair and the address are what get refused."""
    from server.accounts import throttle

    owner = db.make_user(Role.PATIENT, "owner@example.org")

    def after(failures: list[tuple[str, str]], email: str, address: str) -> throttle.Decision:
        async def work(session: AsyncSession) -> throttle.Decision:
            for who, where in failures:
                await throttle.record_failure(session, who, where)
            return await throttle.decide(session, settings, email, address)

        return db.run(work)

    strangers = [(owner.email, f"203.0.113.{n}") for n in range(30)]
    at_home = after(strangers, owner.email, "198.51.100.7")
    assert at_home.wait_minutes == 0 and at_home.delay_seconds > 0  # slower, never locked out
    same_pair = after([], owner.email, "203.0.113.1")
    assert same_pair.wait_minutes == 0  # one failure from that address so far
    db.execute("DELETE FROM login_failure")
    one_address = after([(owner.email, "203.0.113.9")] * 5, owner.email, "203.0.113.9")
    assert one_address.wait_minutes == 15  # that pair is refused…
    assert after([], owner.email, "198.51.100.7").wait_minutes == 0  # …the owner at home is not
    sprayer = after([(f"guess{n}@example.org", "192.0.2.66") for n in range(20)], "x@example.org", "192.0.2.66")
    assert sprayer.wait_minutes > 0  # one address trying many accounts is refused


def test_invite_codes_cannot_be_guessed_endlessly(client: TestClient, db: Database) -> None:
    attempt = {"code": "WRONG-CODE-1", "name": "N", "email": "n@example.org", "password": "a long enough pass",
               "timezone": "America/New_York"}  # fmt: skip
    for _ in range(10):
        assert post_form(client, "/join", attempt).status_code == 422
    refused = post_form(client, "/join", attempt)
    assert refused.status_code == 429 and "Too many tries" in refused.text


def test_time_zone_defaults_to_the_clinics_and_is_said_in_words(client: TestClient, db: Database) -> None:
    """Issue 15 #2: a Chicago clinic's people start in Chicago time, and the page says so in words."""
    therapist = db.make_user(Role.THERAPIST, "t@example.org")
    db.execute("UPDATE clinic SET timezone = 'America/Chicago'")
    login(client, therapist.email)
    code = _invite(client, "patient")
    client.cookies.clear()
    for url in (f"/join?code={code}", "/join"):
        page = client.get(url)
        assert page.status_code == 200
        assert '<option value="America/Chicago" selected>' in page.text, url
        assert "Times will show in Chicago time." in page.text, url
        # The phone's own zone is offered by static JS (no inline script), with the words to show.
        assert "data-browser-timezone" in page.text and "<script>" not in page.text
    # A 422 keeps the chosen zone and says it in words.
    response = _join(client, code, "bad-email", timezone="America/Los_Angeles")
    assert response.status_code == 422
    assert '<option value="America/Los_Angeles" selected>' in response.text
    assert "Times will show in Los Angeles time." in response.text
    joined = _join(client, code, "pat@example.org", timezone="America/Argentina/Buenos_Aires")
    assert joined.status_code == 303
    assert db.scalar("SELECT timezone FROM user_account WHERE email='pat@example.org'") == (
        "America/Argentina/Buenos_Aires"
    )
    account = client.get("/account")
    assert "Times will show in Buenos Aires time." in account.text


def test_setup_page_says_the_clinic_zone_in_words(client: TestClient) -> None:
    page = client.get("/setup")
    assert "Times will show in New York time." in page.text and "data-browser-timezone" in page.text
    response = post_form(client, "/setup", {**SETUP, "password": "password"})
    assert response.status_code == 422 and "Times will show in Chicago time." in response.text
