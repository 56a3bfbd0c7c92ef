"""Reminder choices as rows (server/reminders: `reminder_setting`, one per person per kind), the settings form built
from the registered kinds, push asking whoever keeps the choices, and the migration that moved the old per-kind
columns into rows (and back)."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

import server.reminders  # noqa: F401  (registers the app's kinds and the reader of the choices)
from server.accounts.models import Role
from server.push import kinds as registry
from server.push.kinds import KindOption, ReminderKind, all_kinds, switched_off
from server.reminders.preferences import KindChoice, choices, save_choices
from tests.conftest import Database, login, post_form
from tests.support.migrations import on_connection, scratch_postgres
from tests.support.push_tools import queue, set_preferences

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def test_push_names_no_kind_a_domain_registers() -> None:
    """Push delivers and never decides why: no string in its code (docstrings aside) names another domain's kind."""
    theirs = {k.name for k in all_kinds()} - {"test"}  # "test" is push's own (the button on /reminders)
    for path in sorted((ROOT / "server" / "push").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                assert node.value not in theirs, f"{path.name}:{node.lineno} names the kind {node.value!r}"


def test_choices_are_rows_with_the_kinds_defaults_until_changed(db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    assert patient.id is not None

    async def read(session: AsyncSession) -> tuple[dict[str, KindChoice], set[tuple[int, str]]]:
        return await choices(session, patient.id), await switched_off(  # type: ignore[arg-type]
            session, {(patient.id, "checkin"), (patient.id, "group"), (patient.id, "nudge")}  # type: ignore[arg-type]
        )

    chosen, off = db.run(read)
    assert chosen["checkin"] == KindChoice(True, {"time": time(20, 0)}) and off == set()
    assert db.scalar("SELECT count(*) FROM reminder_setting") == 0
    set_preferences(db.url, patient.id, checkin_enabled=False, group_minutes_before=30)
    chosen, off = db.run(read)
    assert chosen["checkin"].enabled is False and chosen["group"].options == {"minutes_before": 30}
    assert off == {(patient.id, "checkin")}  # a kind nobody can switch off ("nudge") never is
    rows = db.scalar("SELECT count(*) FROM reminder_setting WHERE user_id = :u", u=patient.id)
    assert rows == 2
    assert db.scalar(
        "SELECT options FROM reminder_setting WHERE user_id = :u AND kind = 'group'", u=patient.id
    ) in ({"minutes_before": 30}, '{"minutes_before": 30}')


@pytest.fixture
def staff_kind() -> Iterator[ReminderKind]:
    """A kind registered for the test only: switchable by therapists, with a time and a number of minutes."""
    kind = registry.register_kind(
        ReminderKind(
            "zz-rounds",
            "Ward rounds",
            switchable=True,
            default_on=False,
            setting_label="Remind me of ward rounds",
            roles=("therapist",),
            options=(
                KindOption("at", "Rounds start at", "time", "09:15"),
                KindOption("lead", "Minutes ahead", "minutes", 20, lo=1, hi=90, hint="1 to 90."),
            ),
        )
    )
    yield kind
    registry._REGISTRY.pop(kind.name)


def test_the_settings_form_is_built_from_the_registered_kinds(
    client: TestClient, db: Database, staff_kind: ReminderKind
) -> None:
    therapist = db.make_user(Role.THERAPIST)
    login(client, therapist.email)
    html = client.get("/reminders").text
    assert "Remind me of ward rounds" in html and 'name="zz-rounds_enabled"' in html
    assert 'name="zz-rounds_at"' in html and 'value="09:15"' in html and 'value="20"' in html
    assert 'name="checkin_enabled"' not in html  # a patient's kind
    bad = post_form(client, "/reminders/preferences", {"zz-rounds_lead": "500", "quiet_start": "22:00",
                                                       "quiet_end": "07:00"})  # fmt: skip
    assert bad.status_code == 422 and "Please choose 90 or less." in bad.text and 'value="500"' in bad.text
    good = post_form(client, "/reminders/preferences", {"zz-rounds_enabled": "on", "zz-rounds_at": "08:05",
                                                        "zz-rounds_lead": "45", "quiet_start": "22:00",
                                                        "quiet_end": "07:00"})  # fmt: skip
    assert good.status_code == 303

    async def read(session: AsyncSession) -> dict[str, KindChoice]:
        return await choices(session, therapist.id)  # type: ignore[arg-type]

    assert db.run(read)["zz-rounds"] == KindChoice(True, {"at": time(8, 5), "lead": 45})
    assert db.scalar("SELECT count(*) FROM reminder_setting WHERE user_id = :u", u=therapist.id) == 1


def test_switching_a_kind_off_forgets_what_was_queued(db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    assert patient.id is not None
    assert queue(db.url, user_id=patient.id, kind="homework", dedupe_key="hw:x", title="Practice") is not None

    async def switch_off(session: AsyncSession) -> list[str]:
        return await save_choices(session, patient.id, {"homework": KindChoice(False, {})})  # type: ignore[arg-type]

    assert db.run(switch_off) == ["homework"]
    assert db.scalar("SELECT count(*) FROM reminder WHERE user_id = :u", u=patient.id) == 0


# -- the migration ------------------------------------------------------------------------------------------------


def _people(conn: sa.Connection) -> None:
    now = datetime(2026, 11, 24, 17)
    conn.execute(
        sa.text(
            "INSERT INTO clinic (id, name, timezone, phone, settings, created_at)"
            " VALUES (1, 'C', 'UTC', '', '{}', :now)"
        ),
        {"now": now},
    )
    for uid in (1, 2):
        conn.execute(
            sa.text(
                "INSERT INTO user_account (id, clinic_id, email, display_name, role, password_hash, timezone, locale,"
                " phone, created_at) VALUES (:id, 1, :email, 'P', 'patient', 'x', 'UTC', 'en', '', :now)"
            ),
            {"id": uid, "email": f"p{uid}@example.org", "now": now},
        )


OLD = sa.table(
    "reminder_preference",
    *(sa.column(n) for n in ("user_id", "group_enabled", "group_minutes_before", "checkin_enabled",
                             "homework_enabled", "milestone_enabled")),
    *(sa.column(n, sa.Time()) for n in ("checkin_time", "quiet_start", "quiet_end")),
    sa.column("updated_at", DateTimeUTC(timezone=True)),
)  # fmt: skip


def _before(conn: sa.Connection) -> None:
    _people(conn)
    conn.execute(
        sa.insert(OLD).values(
            user_id=1, group_enabled=False, group_minutes_before=45, checkin_enabled=True,
            checkin_time=time(19, 30), homework_enabled=False, milestone_enabled=True,
            quiet_start=time(23, 0), quiet_end=time(6, 0), updated_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
        )
    )  # fmt: skip


def _after_upgrade(conn: sa.Connection) -> tuple[dict[str, Any], set[str]]:
    rows = {
        r.kind: (bool(r.enabled), r.options if isinstance(r.options, dict) else json.loads(r.options))
        for r in conn.execute(sa.text("SELECT kind, enabled, options FROM reminder_setting WHERE user_id = 1"))
    }
    columns = {c["name"] for c in sa.inspect(conn).get_columns("reminder_preference")}
    # A choice made after the upgrade by someone who never had a row goes back into the columns too.
    conn.execute(
        sa.text(
            "INSERT INTO reminder_setting (user_id, kind, enabled, options, updated_at)"
            " VALUES (2, 'checkin', :off, :opts, :now)"
        ).bindparams(sa.bindparam("now", type_=DateTimeUTC(timezone=True))),
        {"off": False, "opts": '{"time": "07:45"}', "now": datetime(2026, 11, 24, 17, tzinfo=UTC)},
    )
    return rows, columns


def _after_downgrade(conn: sa.Connection) -> tuple[dict[int, Any], list[str]]:
    cols = ("user_id", "group_enabled", "group_minutes_before", "checkin_enabled", "checkin_time",
            "homework_enabled", "quiet_start")  # fmt: skip
    back = {r.user_id: r for r in conn.execute(sa.select(*(OLD.c[c] for c in cols)))}
    return back, sa.inspect(conn).get_table_names()


def _migration_round_trip(url: str) -> None:
    from alembic import command

    from server.db import alembic_config, migrate

    migrate(url, "0010")
    on_connection(url, _before)
    command.upgrade(alembic_config(url), "0010r")
    rows, columns = on_connection(url, _after_upgrade)
    assert rows == {
        "group": (False, {"minutes_before": 45}),
        "checkin": (True, {"time": "19:30"}),
        "homework": (False, {}),
        "milestone": (True, {}),
    }
    assert "group_enabled" not in columns and {"quiet_start", "quiet_end"} <= columns
    command.downgrade(alembic_config(url), "0010")
    back, tables = on_connection(url, _after_downgrade)
    assert "reminder_setting" not in tables
    one, two = back[1], back[2]
    assert (bool(one.group_enabled), one.group_minutes_before, bool(one.homework_enabled)) == (False, 45, False)
    assert one.checkin_time == time(19, 30) and one.quiet_start == time(23, 0)
    assert (bool(two.checkin_enabled), two.checkin_time, bool(two.group_enabled)) == (False, time(7, 45), True)


def test_migration_moves_the_old_columns_into_rows_and_back_on_sqlite(tmp_path: Any) -> None:
    _migration_round_trip(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


def test_migration_moves_the_old_columns_into_rows_and_back_on_postgresql() -> None:
    """In a database of its own (created and dropped here), since it walks the schema down and up."""
    with scratch_postgres() as url:
        _migration_round_trip(url)


def test_quiet_hours_default_and_change_apart_from_the_choices(db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    set_preferences(db.url, patient.id, quiet_start=time(21, 0))
    assert db.scalar("SELECT count(*) FROM reminder_setting") == 0
    stored = db.scalar("SELECT quiet_start FROM reminder_preference WHERE user_id = :u", u=patient.id)
    assert str(stored).startswith("21:00")
