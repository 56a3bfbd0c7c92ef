"""A page view (GET) reads the session row in its page's own statement (`server/accounts/sessions.py`'s
`SessionGuess`): one round trip instead of two. These tests hold it to the promise the separate read kept: a
sign-out, an expiry or a change to the person counts on the very next request, in every process; an answer built
on a wrong guess is never sent and nothing it wrote is kept. Over real HTTP (the app's test client), on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from litestar.testing import TestClient
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.accounts.models import Role, User
from server.accounts.sessions import forget, resolve_session
from server.db import carry, utcnow
from server.settings import Settings
from tests.conftest import Database, login, on_test_loop, post_form
from tests.test_reads import _using
from tests.test_sharing_access import Scene, as_user, scene  # noqa: F401 (a fixture)
from tests.test_statement_budget import StatementCounter

pytestmark = pytest.mark.dialect_sensitive

# A page with a composed read (the check rides on it), one without (the check runs before the answer starts), and
# one whose handler fails (someone else's row) before any composed read.
PAGES = ["/today", "/more", "/skills/no-such-skill"]


def _patient(client: TestClient, db: Database, email: str = "p@example.org") -> User:
    patient = db.make_user(Role.PATIENT, email, name="Pat Guess")
    login(client, patient.email)
    return patient


def _signed_out_elsewhere(db: Database) -> None:
    db.execute("DELETE FROM user_session")


def test_a_page_view_reads_the_session_in_the_pages_own_statement(client: TestClient, db: Database) -> None:
    _patient(client, db)
    counter = StatementCounter(client)
    seen: list[str] = []
    event.listen(counter.engine, "before_cursor_execute", lambda _c, _k, statement, *_a: seen.append(statement))
    forget(client.cookies["steady_session"])  # as in a process that has not seen this session yet
    assert client.get("/today").status_code == 200  # which reads the session on its own
    assert len(seen) == 2 and "checkin" not in seen[0]
    seen.clear()
    assert client.get("/today").status_code == 200
    assert len(seen) == 1 and "user_session" in seen[0] and "checkin" in seen[0], seen


@pytest.mark.parametrize("path", PAGES)
def test_a_sign_out_elsewhere_counts_on_the_next_page_view(client: TestClient, db: Database, path: str) -> None:
    _patient(client, db)
    assert client.get(path, follow_redirects=False).status_code in (200, 404)  # the process has seen the session
    _signed_out_elsewhere(db)
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=" + path.split("?")[0]
    assert "Pat Guess" not in response.text


def test_a_sign_out_in_another_process_counts_on_the_next_page_view(
    client: TestClient, db: Database, other_app: Any
) -> None:
    """Two app processes (two apps with their own caches) on one database: each one's guess is checked."""
    patient = _patient(client, db)
    with TestClient(app=other_app, base_url="http://127.0.0.1:8000") as laptop:
        login(laptop, patient.email)
        assert laptop.get("/today").status_code == 200
        assert client.get("/today").status_code == 200
        assert post_form(laptop, "/account/devices/sign-out-others").status_code == 303
        assert client.get("/today", follow_redirects=False).headers["location"] == "/login?next=/today"
        assert laptop.get("/today").status_code == 200


def test_a_changed_name_and_language_show_on_the_next_page_view(client: TestClient, db: Database) -> None:
    patient = _patient(client, db)
    assert "Pat Guess" in client.get("/today").text
    db.execute("UPDATE user_account SET display_name = 'Robin New', locale = 'es' WHERE id = :id", id=patient.id)
    page = client.get("/today").text
    assert "Robin New" in page and "Pat Guess" not in page
    assert '<html lang="es">' in page


def test_a_role_changed_elsewhere_is_not_served_the_old_role(client: TestClient, db: Database) -> None:
    patient = _patient(client, db)
    assert client.get("/today").status_code == 200
    db.execute("UPDATE user_account SET role = 'family' WHERE id = :id", id=patient.id)
    assert client.get("/today", follow_redirects=False).status_code == 403


def test_a_session_expired_since_the_guess_ends(client: TestClient, db: Database) -> None:
    _patient(client, db)
    assert client.get("/today").status_code == 200
    db.execute("UPDATE user_session SET expires_at = :t", t=utcnow() - timedelta(seconds=1))
    assert client.get("/today", follow_redirects=False).status_code == 303
    assert db.scalar("SELECT count(*) FROM user_session") == 0  # the usual way deletes it, as before


def test_a_session_due_for_its_touch_is_read_the_usual_way(client: TestClient, db: Database) -> None:
    """Past TOUCH_INTERVAL the guess is not used: the usual look-up records the visit (last_seen_at)."""
    _patient(client, db)
    assert client.get("/today").status_code == 200
    seen = db.scalar("SELECT last_seen_at FROM user_session")
    with time_machine.travel(utcnow() + timedelta(minutes=2), tick=False):
        assert client.get("/today").status_code == 200
        assert db.scalar("SELECT last_seen_at FROM user_session") != seen


def test_the_requests_that_find_a_session_due_touch_it_once_between_them(
    settings: Settings, client: TestClient, db: Database
) -> None:
    """Eight requests in flight when the session falls due for its touch: one writes last_seen_at, the others use
    the session as read (each used to write it in turn, waiting for the one before: on SQLite in the busy handler,
    400 ms tails under load). Every one of them is still signed in."""
    _patient(client, db)
    token = client.cookies["steady_session"]
    due = utcnow() - timedelta(minutes=2)
    db.execute("UPDATE user_session SET last_seen_at = :t", t=due)

    async def together(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[Any], list[str]]:
        touches: list[str] = []

        def seen(_connection: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
            if statement.lstrip().upper().startswith("UPDATE USER_SESSION"):
                touches.append(statement)

        event.listen(sessions.kw["bind"].sync_engine, "before_cursor_execute", seen)

        async def one() -> Any:
            async with sessions() as session:
                return await resolve_session(session, token)

        return list(await asyncio.gather(*(one() for _ in range(8)))), touches

    found, touches = on_test_loop(_using(settings, together))
    assert all(signed_in is not None and signed_in[0].email == "p@example.org" for signed_in in found)
    assert len(touches) == 1, touches
    assert db.scalar("SELECT count(*) FROM user_session WHERE last_seen_at > :t", t=due) == 1


def test_a_view_built_on_a_wrong_guess_writes_nothing(client: TestClient, db: Database, scene: Scene) -> None:  # noqa: F811
    """The dashboard logs each disclosure as it builds the page (a write on a GET). Signed out since the last view,
    the therapist gets the sign-in page and the log gains nothing: the write made for the guess is rolled back."""
    as_user(client, scene.ana)
    assert client.get("/therapist").status_code == 200
    logged = db.scalar("SELECT count(*) FROM disclosure_log")
    assert logged > 0
    assert client.get("/therapist").status_code == 200
    assert db.scalar("SELECT count(*) FROM disclosure_log") == 2 * logged  # the guessed view logs as any view
    _signed_out_elsewhere(db)
    response = client.get("/therapist", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert db.scalar("SELECT count(*) FROM disclosure_log") == 2 * logged
    assert "Pat Doe" not in response.text


def test_a_commit_before_the_guess_is_checked_is_refused(db: Database) -> None:
    """A handler that committed before the guess was confirmed would keep a write made for someone signed out."""

    class Unchecked:
        settled = False

    async def commit_early(session: AsyncSession) -> None:
        carry(session, Unchecked())  # type: ignore[arg-type]
        await session.commit()

    with pytest.raises(RuntimeError, match="rider"):
        db.run(commit_early)


def test_posts_never_run_on_a_guess(client: TestClient, db: Database) -> None:
    """A form's POST reads the session first (its body is read once, so it could not run again)."""
    _patient(client, db)
    assert client.get("/today").status_code == 200
    _signed_out_elsewhere(db)
    response = post_form(client, "/account/profile", {"name": "X", "timezone": "UTC", "locale": "en"})
    assert response.status_code in (303, 401, 403)
    assert db.scalar("SELECT count(*) FROM user_account WHERE display_name = 'X'") == 0
