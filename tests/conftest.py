"""Shared fixtures: a migrated database per backend (SQLite always, PostgreSQL when TEST_DATABASE_URL
is set), the real app behind Litestar's test client, and helpers to make people and sign in."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import time_machine
from advanced_alchemy.types import DateTimeUTC
from litestar.testing import TestClient
from sqlalchemy import bindparam, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from server.accounts.models import CareTeam, Clinic, FamilyLink, Role, User
from server.accounts.passwords import hash_password, password_context
from server.app import create_app
from server.db import migrate
from server.push.vapid import VapidKeys
from server.settings import Settings
from tests.support.in_loop import cross_once
from tests.support.push_service import LoopbackPushService

T = TypeVar("T")

# Tests only: argon2id at its cheapest, so each sign-in costs microseconds instead of ~75 ms. The production
# parameters live in server/accounts/passwords.py; test_production_password_hash_parameters checks them.
password_context.update(argon2__memory_cost=8, argon2__time_cost=1)
# The test client's own line per request ("HTTP Request: GET …", httpx's INFO log) went through every handler the app
# and pytest install on the root logger, formatted by each: a few percent of the suite's CPU, about nothing the app
# does (the app's own request log, `steady.http`, is untouched).
logging.getLogger("httpx").setLevel(logging.WARNING)
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true"}
PASSWORD = "a calm blue lake"
BACKENDS = ["sqlite", "postgresql"]

# The moment every non-browser test lives in, whatever the machine's clock says: a Tuesday at noon in New York
# (the clinics' default zone), outside the default quiet hours, so no test can pass at one hour and fail at another.
# Tests place data relative to it (`datetime.now(UTC)` returns it, ticking on from there) and never name a date
# that will age. Browser tests keep the real clock: Chromium, its cookies and its service worker run on it.
FROZEN_NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("browser") or request.node.get_closest_marker("real_clock"):
        yield
        return
    with time_machine.travel(FROZEN_NOW, tick=True):
        yield


def require_postgres() -> str:
    """PostgreSQL-only tests skip locally without TEST_DATABASE_URL, and fail in CI instead of skipping."""
    if not PG_URL:
        if IN_CI:
            pytest.fail("TEST_DATABASE_URL must be set in CI")
        pytest.skip("TEST_DATABASE_URL is not set")
    return PG_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


def _own_database(url: str) -> str:
    """Under pytest-xdist each worker has a PostgreSQL database of its own, `<name>_<worker id>` (gw0, gw1, …)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    configured = make_url(url)
    return configured.set(database=f"{configured.database}_{worker}").render_as_string(hide_password=False)


async def _create_database_if_missing(url: str, name: str) -> None:
    """CREATE DATABASE from a connection to the configured database (which exists) outside a transaction."""
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            exists = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_migrated() -> str:
    configured = require_postgres()
    url = _own_database(configured)

    async def reset() -> None:
        if url != configured:
            await _create_database_if_missing(configured, str(make_url(url).database))
        engine = create_async_engine(url, poolclass=NullPool)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(reset())
    migrate(url)
    return url


# Each table with the tables it references (itself left out), to delete children before their parents.
_REFERENCES = """
SELECT c.relname, array_remove(array_agg(DISTINCT p.relname), NULL)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'f' AND k.confrelid <> c.oid
LEFT JOIN pg_class p ON p.oid = k.confrelid
WHERE c.relkind = 'r' AND c.relname <> 'alembic_version'
GROUP BY c.relname
"""
# Ids start at 1 again, as after TRUNCATE … RESTART IDENTITY (sequences never used are left as they are).
_RESTART_SEQUENCES = """SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false)
FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL"""
_EMPTYING_SCRIPTS: dict[str, str] = {}


def empty_postgres(url: str) -> None:
    """Delete every row (the schema stays) and restart the ids: one round trip of DELETEs, children first. TRUNCATE
    of the ~50 tables did the same in ~140 ms (it makes new files for each and syncs them); this takes ~15 ms, on a
    connection kept open for the session (a new one costs PostgreSQL a backend process per test)."""
    on_test_loop(_empty_postgres(url))


_KEPT_CONNECTIONS: dict[str, asyncpg.Connection] = {}


async def kept_postgres(url: str) -> asyncpg.Connection:
    """A plain asyncpg connection to the database, opened once per test process (on the loop of `on_test_loop`)."""
    conn = _KEPT_CONNECTIONS.get(url)
    if conn is None or conn.is_closed():
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = _KEPT_CONNECTIONS[url] = await asyncpg.connect(dsn)
    return conn


async def _empty_postgres(url: str) -> None:
    conn = await kept_postgres(url)
    if url not in _EMPTYING_SCRIPTS:
        references = {table: set(parents) for table, parents in await conn.fetch(_REFERENCES)}
        parents_first: list[str] = []
        seen: set[str] = set()

        def place(table: str) -> None:
            if table not in seen:
                seen.add(table)
                for parent in sorted(references[table]):
                    place(parent)
                parents_first.append(table)

        for table in sorted(references):
            place(table)
        deletes = "".join(f'DELETE FROM "{table}";' for table in reversed(parents_first))
        _EMPTYING_SCRIPTS[url] = deletes + _RESTART_SEQUENCES
    await conn.execute(_EMPTYING_SCRIPTS[url])


def empty_sqlite(path: Path) -> None:
    """Delete every row (the schema stays): the shared app's connections keep pointing at the same file. Without
    waiting for the disk (a test database need not survive a power cut): ~2 ms instead of ~10."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        script = _EMPTYING_SCRIPTS.get(str(path))
        if script is None:
            tables = conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'"
                " AND name <> 'alembic_version' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
            script = "".join(f'DELETE FROM "{name}";' for (name,) in tables)
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'").fetchone():
                script += "DELETE FROM sqlite_sequence;"  # ids start at 1 again, as after TRUNCATE … RESTART IDENTITY
            _EMPTYING_SCRIPTS[str(path)] = script
        conn.executescript(f"PRAGMA foreign_keys=OFF; PRAGMA synchronous=OFF; BEGIN; {script} COMMIT;")


@pytest.fixture(scope="session")
def sqlite_shared(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shared") / "steady.db"
    shutil.copy(sqlite_template, path)
    return path


# The PostgreSQL run is kept for the tests whose SQL differs by dialect: concurrency and locking (claims, races,
# savepoints), ON CONFLICT and RETURNING, the detector's gaps-and-islands branch, aggregates (AVG is NUMERIC on
# PostgreSQL), JSON columns, dates and time zones, integer and text limits (int4, NUL bytes), cascades. Everything
# else (page rendering, guards, form validation) runs the same SQL on both, so it runs on SQLite only. A whole module
# is listed with None; otherwise its dialect-sensitive tests by name. A test may also say so itself with
# `@pytest.mark.dialect_sensitive`.
DIALECT_SENSITIVE: dict[str, set[str] | None] = {
    "test_checkin_measures.py": None,  # every measure's column type, SQL aggregates and booleans on both
    "test_reminder_settings.py": None,  # JSON options, upserts, the migration's data moves
    "test_checkins_idempotency.py": None,
    "test_checkins_progress.py": None,
    "test_checkins_time.py": None,
    "test_checkins_property.py": None,
    "test_consent.py": None,
    "test_family_property.py": None,
    "test_family_push.py": None,
    "test_fuzz_routes.py": None,
    "test_log_privacy.py": None,
    "test_milestones.py": None,
    "test_push_concurrency.py": None,
    "test_push_dispatch.py": None,
    "test_reminders_planning.py": None,
    "test_schedule_logic.py": None,
    "test_sharing_summary.py": None,
    "test_skills_logic.py": None,
    "test_accounts.py": {
        "test_invites_set_the_role_are_single_use_and_link_the_care_team",
        "test_throttling_per_account_with_a_clear_message",
        "test_throttling_per_address",
        "test_staff_sessions_time_out_when_idle",
        "test_sessions_end_at_their_absolute_lifetime",
        "test_patient_deletes_their_account_and_every_row_goes",
        "test_strangers_failing_from_other_addresses_never_lock_the_owner_out",
        "test_invite_codes_cannot_be_guessed_endlessly",
    },
    "test_checkins.py": {
        "test_save_todays_checkin_with_everything",
        "test_editing_todays_checkin_updates_the_same_row",
        "test_an_offline_edit_made_yesterday_evening_and_sent_today_still_counts",
        "test_a_phone_clock_running_ahead_does_not_create_tomorrow",
        "test_diary_card_can_be_switched_on_and_saved",
        "test_own_triggers_can_be_added_hidden_and_used",
        "test_dates_at_the_ends_of_the_calendar_never_crash",
        "test_log_a_craving",
    },
    "test_crisis.py": {
        "test_crisis_page_still_opens_when_the_database_fails",
        "test_safety_plan_edit_save_and_read",
        "test_deleting_the_account_deletes_the_plan",
        "test_two_first_saves_at_once_leave_one_plan",
        "test_clinic_lines_replace_the_us_defaults",
        "test_migration_creates_safety_plan_with_cascade",
    },
    "test_family_routes.py": {
        "test_pause_stop_and_remove_take_effect_at_once",
        "test_good_news_reaches_those_who_agreed_once",
        "test_the_feed_shows_warm_cards_only_while_consent_covers_them",
        "test_encouragement_reaches_today_and_can_be_switched_off",
    },
    "test_hostile_input.py": {
        "test_ids_no_database_could_hold_are_404_in_paths_and_422_in_queries",
        "test_control_characters_in_free_text_are_a_field_error_not_a_lost_change",
        "test_new_lines_and_tabs_in_notes_are_kept",
        "test_ids_past_int32_in_forms_are_a_choice_error",
    },
    "test_i18n_spanish.py": {
        "test_a_consent_signed_in_spanish_stores_the_spanish_text",
        "test_pushes_reach_each_person_in_their_own_language",
    },
    "test_offline_protocol.py": {
        "test_every_queueable_form_acknowledges_its_key_and_only_a_replay_gets_the_acknowledgement",
    },
    "test_platform.py": {
        "test_every_named_store_is_shared_through_the_database",
        "test_cli_creates_the_first_admin_once_and_invites",
    },
    "test_push_pages.py": {
        "test_subscribe_list_and_remove_devices",
        "test_turning_reminders_on_plans_the_checkin_reminder_at_once",
        "test_a_phone_moves_to_whoever_subscribed_it_last",
        "test_pressing_test_twice_quickly_sends_one",
        "test_saving_reschedules_the_checkin_reminder_at_once",
        "test_admin_sees_counts_without_names_or_text",
        "test_in_app_dispatcher_sends_the_test_notification_right_away",
        "test_steady_dispatch_once",
        "test_service_worker_renews_a_replaced_subscription",
        "test_renewing_can_never_remove_someone_elses_device",
    },
    "test_schedule_admin.py": {
        "test_one_off_changes_through_the_admin_pages",
        "test_enrolments_discharge_extend_and_reopen",
    },
    "test_schedule_patient.py": {
        "test_patient_sees_upcoming_and_next_group_in_their_timezone",
        "test_patient_marks_attendance_with_and_without_htmx",
        "test_calendar_feed_parses_back_and_resets",
    },
    "test_sharing_access.py": {
        "test_only_consented_categories_reach_html_csv_and_pdf",
        "test_revocation_takes_effect_on_the_next_request",
        "test_expired_consent_opens_nothing",
        "test_patient_sees_the_access_log",
    },
    "test_sharing_flows.py": {
        "test_signing_changing_and_revoking",
        "test_nudge_once_a_day_without_health_details",
        "test_homework_assignment_and_reminder",
        "test_dashboard_query_count_does_not_grow_with_patients",
        "test_consent_until_the_end_of_my_program",
    },
    "test_skills.py": {
        "test_practice_is_saved_with_everything",
        "test_replay_returns_the_original_and_never_duplicates",
        "test_concurrent_duplicates_make_one_row",
        "test_keys_are_per_person",
        "test_favourites_toggle_and_come_first",
        "test_assignment_is_listed_then_completed_by_practising_it",
    },
    "test_therapist_gate.py": {"test_an_allowed_read_writes_one_access_log_row_and_revoking_closes_it_at_once"},
    # The dashboard's per-patient reads pass their ids as one array on PostgreSQL, an IN elsewhere (db.among_given).
    "test_therapist_dashboard_days.py": {"test_last_weeks_flags_show_on_tuesday_until_reviewed"},
}


def dialect_sensitive(definition: pytest.Function | pytest.Item) -> bool:
    if definition.get_closest_marker("dialect_sensitive"):
        return True
    module = Path(str(definition.path)).name
    if module not in DIALECT_SENSITIVE:
        return False
    names = DIALECT_SENSITIVE[module]
    return names is None or definition.name.split("[")[0] in names


@pytest.hookimpl(tryfirst=True)  # before pytest reads the parametrize marks and the fixture's own params
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that reach a database run on SQLite, and also on PostgreSQL only when dialect-sensitive. (A mark, not
    metafunc.parametrize: pytest then leaves out the fixture's params=BACKENDS instead of adding them twice.)"""
    if "database_url" in metafunc.fixturenames and not dialect_sensitive(metafunc.definition):
        metafunc.definition.add_marker(pytest.mark.parametrize("database_url", ["sqlite"], indirect=True))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """One migrated database per backend for the whole session, emptied before each test (Datasette's pattern:
    the app is built once per backend, the data is fresh for every test)."""
    if request.param == "sqlite":
        path: Path = request.getfixturevalue("sqlite_shared")
        empty_sqlite(path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_migrated")
    empty_postgres(url)
    return url


@pytest.fixture
def push_service() -> Iterator[LoopbackPushService]:
    """The loopback RFC 8030 push service (decrypts what it receives), on its own thread for one test."""
    service = LoopbackPushService()
    with service.run_in_thread():
        yield service


@pytest.fixture(scope="module")
def keys() -> VapidKeys:
    return VapidKeys.generate("mailto:ops@steady.example")


@pytest.fixture
def postgres_only(postgres_migrated: str) -> Database:
    """For tests about PostgreSQL itself (many processes sharing one database): emptied, no SQLite twin."""
    empty_postgres(postgres_migrated)
    return Database(postgres_migrated)


_TEST_LOOP: asyncio.AbstractEventLoop | None = None
_TEST_ENGINES: dict[str, AsyncEngine] = {}


def on_test_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the test process's own event loop, in a thread of its own: the caller may itself be inside
    an event loop (Playwright's sync API). One loop for the session, so the tests' engines keep their connections
    instead of paying a new thread, loop, engine and connection (a PostgreSQL backend) for every helper call."""
    global _TEST_LOOP
    if _TEST_LOOP is None:
        _TEST_LOOP = asyncio.new_event_loop()
        threading.Thread(target=_TEST_LOOP.run_forever, name="tests-db", daemon=True).start()
    return asyncio.run_coroutine_threadsafe(work, _TEST_LOOP).result()


def _test_engine(url: str) -> AsyncEngine:
    if url not in _TEST_ENGINES:
        _TEST_ENGINES[url] = create_async_engine(url, pool_size=2, max_overflow=8)
    return _TEST_ENGINES[url]


@dataclass
class Database:
    """Direct database access for arranging and checking test data (outside the app's event loop)."""

    url: str

    def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async def go() -> T:
            async with async_sessionmaker(_test_engine(self.url), expire_on_commit=False)() as session:
                result = await work(session)
                await session.commit()
                return result

        return on_test_loop(go())

    def scalar(self, sql: str, **params: Any) -> Any:
        async def work(session: AsyncSession) -> Any:
            return (await session.execute(text(sql), params)).scalar()

        return self.run(work)

    def execute(self, sql: str, **params: Any) -> int:
        """Run a statement; datetimes are bound with the app's UTC column type so both backends agree."""
        utc = DateTimeUTC(timezone=True)
        statement = text(sql).bindparams(
            *(bindparam(name, type_=utc) for name, value in params.items() if isinstance(value, datetime))
        )

        async def work(session: AsyncSession) -> int:
            return (await session.execute(statement, params)).rowcount or 0

        return self.run(work)

    def make_clinic(self, name: str = "Test Clinic", clinic_id: int | None = None) -> Clinic:
        async def work(session: AsyncSession) -> Clinic:
            clinic = Clinic(id=clinic_id, name=name, timezone="America/New_York")
            session.add(clinic)
            await session.flush()
            return clinic

        return self.run(work)

    def make_user(
        self,
        role: Role | str,
        email: str | None = None,
        *,
        clinic_id: int | None = None,
        name: str | None = None,
        timezone: str = "America/New_York",
        password: str = PASSWORD,
        therapist: User | None = None,
        patient: User | None = None,
    ) -> User:
        role = Role(role)

        async def work(session: AsyncSession) -> User:
            cid = clinic_id
            if cid is None:
                clinic = await session.get(Clinic, 1)
                if clinic is None:
                    clinic = Clinic(id=1, name="Test Clinic", timezone="America/New_York")
                    session.add(clinic)
                    await session.flush()
                cid = clinic.id
            count = (await session.execute(text("SELECT count(*) FROM user_account"))).scalar() or 0
            user = User(
                clinic_id=cid,  # type: ignore[arg-type]
                email=(email or f"{role.value}{count + 1}@example.org").lower(),
                display_name=name or f"{role.value.title()} {count + 1}",
                role=role,
                password_hash=_hash(password),
                timezone=timezone,
            )
            session.add(user)
            await session.flush()
            if therapist is not None:
                session.add(CareTeam(patient_id=user.id, therapist_id=therapist.id))  # type: ignore[arg-type]
            if patient is not None:
                session.add(FamilyLink(patient_id=patient.id, family_id=user.id))  # type: ignore[arg-type]
            return user

        return self.run(work)


_HASHES: dict[str, str] = {}


def _hash(password: str) -> str:
    # argon2 is deliberately slow; one hash per distinct password keeps the suite quick.
    if password not in _HASHES:
        _HASHES[password] = hash_password(password)
    return _HASHES[password]


@pytest.fixture
def db(database_url: str) -> Database:
    return Database(database_url)


_SESSION_SETTINGS: dict[str, Settings] = {}
_SESSION_APPS: dict[str, Any] = {}


@pytest.fixture
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The settings of the backend's shared app (its data folder, VAPID keys included, lives for the session)."""
    if database_url not in _SESSION_SETTINGS:
        data_dir = tmp_path_factory.mktemp("data")
        _SESSION_SETTINGS[database_url] = Settings.from_env(
            {
                "STEADY_DATA_DIR": str(data_dir),
                "DATABASE_URL": database_url,
                "SECRET_KEY": "test-secret-" + "x" * 40,
                "STEADY_PUSH_ALLOW_LOOPBACK_FOR_TESTS": "1",  # the loopback push service of tests/support
            },
            migrate_on_start=False,
            run_dispatcher_in_app=False,
        )
    return _SESSION_SETTINGS[database_url]


@pytest.fixture
def app_factory(settings: Settings) -> Callable[..., Any]:
    """A new app of its own, for a test that needs a second device at once or other settings (`client` is shared)."""

    def make(**overrides: Any) -> Any:
        return create_app(replace(settings, **overrides) if overrides else settings)

    return make


@pytest.fixture
def other_app(settings: Settings) -> Any:
    """A second app on the same database, for another device (or process) beside `client`: built once per backend
    and kept for the session, as `client`'s is. `app_factory` builds a new one each time, for other settings or for
    a test about separate instances."""
    key = "other " + settings.database_url
    if key not in _SESSION_APPS:
        _SESSION_APPS[key] = create_app(settings)
    return _SESSION_APPS[key]


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The backend's one app, built on first use and kept for the session (Datasette's pattern): its lifespan runs
    per test, so its pooled connections close with each test's event loop; the data is emptied before each test."""
    app = _SESSION_APPS.get(settings.database_url)
    if app is None:
        app = _SESSION_APPS[settings.database_url] = create_app(settings)
    with TestClient(app=app, base_url="http://127.0.0.1:8000") as test_client:
        yield cross_once(test_client)


def csrf_token(client: TestClient) -> str:
    names = ("csrftoken", "__Host-csrftoken")  # the second over https
    if not any(name in client.cookies for name in names):
        client.get("/login")
    return next(client.cookies[name] for name in names if name in client.cookies)


def post_form(client: TestClient, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """Post a form the way a browser does, CSRF token included."""
    body = {"_csrf_token": csrf_token(client), **(data or {})}
    return client.post(url, data=body, follow_redirects=kwargs.pop("follow_redirects", False), **kwargs)


def htmx_post(client: TestClient, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """Post the way htmx does: token in the x-csrftoken header."""
    headers = {"HX-Request": "true", "x-csrftoken": csrf_token(client), **kwargs.pop("headers", {})}
    return client.post(url, data=data or {}, headers=headers, follow_redirects=False, **kwargs)


def login(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    response = post_form(client, "/login", {"email": email, "password": password})
    assert response.status_code == 303, response.text
    # Signing in drops the CSRF cookie (a new token per session): fetch the new one now, as the next page would,
    # so threads sharing this client don't each mint their own.
    csrf_token(client)
    return response


# Tests whose assertions involve real elapsed time (a lease running out, a timeout, a slow push service) or that run
# several dispatcher processes at once: under pytest-xdist they share one group, so they run one after another on a
# single worker instead of competing with each other for the CPUs. A whole module is listed with None. Tests marked
# real_clock must be listed here too (checked at collection).
TIMED: dict[str, set[str] | None] = {
    "test_push_crash.py": None,
    "test_push_concurrency.py": None,
    "test_push_delivery.py": {"test_slow_service_times_out_quickly_as_retry", "test_concurrency_is_bounded"},
    "test_push_dispatch.py": {"test_a_slow_batch_keeps_its_lease_so_nobody_sends_it_twice"},
    "test_push_pages.py": {"test_a_slow_push_service_never_holds_up_pages"},
    "test_milestones.py": {"test_two_processes_evaluating_at_once_record_and_tell_once"},
}


def xdist_group(nodeid: str) -> str | None:
    """A test's group for `--dist loadgroup`, from its id alone (pytest-xdist's scheduler sees only ids): a browser
    module is one group (one worker runs it in its one Chromium, rather than each worker starting Chromium for a few
    of its tests), the TIMED tests are one. Ungrouped tests are handed out one by one to whichever worker is free."""
    path, _, rest = nodeid.partition("::")
    if path.startswith("tests/browser/"):
        return f"browser-{Path(path).stem}"
    module, name = Path(path).name, rest.split("[")[0]
    if module in TIMED and (TIMED[module] is None or name in (TIMED[module] or set())):
        return "timed"
    return None


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's: without the plugin (-p no:xdist) it is never called
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup` grouped by xdist_group() above. pytest-xdist (3.8) groups by a suffix that its worker hook
    writes into each test's `_nodeid`, which pytest 9 no longer reads (ids live in `_id`): the xdist_group marks were
    silently ignored, timed tests ran side by side and each browser module launched Chromium on both workers."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class GroupScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group(nodeid) or nodeid

    return GroupScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests are marked `browser` (so `-m "not browser"` leaves them out and they keep the real clock) and,
    in a run without xdist, run last: they are the slowest, and a failure in a fast test should show first. Under
    `--dist loadgroup` they come first instead: xdist hands out groups with more tests first and keeps collection
    order among equals, so a one-test browser module would otherwise wait behind every single test and finish last."""
    for item in items:
        if xdist_group(item.nodeid) == "timed" or not item.get_closest_marker("real_clock"):
            continue
        raise pytest.UsageError(f"{item.nodeid} is marked real_clock: list it in TIMED (tests/conftest.py)")
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)
    browser_first = bool(getattr(config.option, "loadgroup", False))  # set on pytest-xdist's workers
    items.sort(key=lambda item: (item.get_closest_marker("browser") is not None) != browser_first)
