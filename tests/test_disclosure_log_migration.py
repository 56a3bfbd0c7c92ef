"""Migration 0014: the access log's viewer and consent become plain ids (no foreign key, no index), its rows kept
as they were; a patient's log still goes with the patient, and a viewer's account going leaves their rows as
written. Downgrade puts the keys back (ids of accounts gone by then become NULL, as ON DELETE SET NULL made them)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command

from server.db import alembic_config, migrate
from tests.support.migrations import on_connection, scratch_postgres

AT = datetime(2026, 11, 24, 17, tzinfo=UTC)
ROWS = "SELECT patient_id, viewer_id, viewer_name, consent_id, kind, subject FROM disclosure_log ORDER BY id"


def _arrange(conn: sa.Connection) -> None:
    conn.execute(sa.text("INSERT INTO clinic (id, name, timezone, phone, settings, created_at)"
                         " VALUES (1, 'C', 'UTC', '', '{}', :at)"), {"at": AT})  # fmt: skip
    for uid, role in ((1, "patient"), (2, "therapist"), (3, "patient")):
        conn.execute(
            sa.text(
                "INSERT INTO user_account (id, clinic_id, email, display_name, role, password_hash, timezone, locale,"
                " phone, created_at) VALUES (:id, 1, :email, 'P', :role, 'x', 'UTC', 'en', '', :at)"
            ),
            {"id": uid, "email": f"u{uid}@example.org", "role": role, "at": AT},
        )
    conn.execute(
        sa.text(
            "INSERT INTO consent (id, patient_id, recipient_id, recipient_kind, version, categories, purpose,"
            " data_from, starts_at, ends_at, until_program_end, wording, signature, signed_at, locale,"
            " ended_with_program) VALUES (7, 1, 2, 'therapist', 1, '[]', 'care', '2026-11-01', :at, :at, false, 'w',"
            " 's', :at, 'en', false)"
        ),
        {"at": AT},
    )
    for patient in (1, 3):
        conn.execute(
            sa.text("INSERT INTO disclosure_log (patient_id, viewer_id, viewer_name, consent_id, kind, subject, at)"
                    " VALUES (:p, 2, 'Dr. R', 7, 'dashboard', '2026-W48', :at)"), {"p": patient, "at": AT},
        )  # fmt: skip


def _keys(conn: sa.Connection) -> tuple[set[str], set[str], list[Any]]:
    inspector = sa.inspect(conn)
    keys = {column for key in inspector.get_foreign_keys("disclosure_log") for column in key["constrained_columns"]}
    indexes = {index["name"] for index in inspector.get_indexes("disclosure_log")}
    return keys, indexes, [tuple(row) for row in conn.execute(sa.text(ROWS))]


def _delete(sql: str) -> Any:
    def run(conn: sa.Connection) -> list[Any]:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.execute(sa.text(sql))
        return [tuple(row) for row in conn.execute(sa.text(ROWS))]

    return run


def _round_trip(url: str) -> None:
    migrate(url, "0010r")
    on_connection(url, _arrange)
    before = on_connection(url, _keys)
    assert before[0] == {"patient_id", "viewer_id", "consent_id"}
    command.upgrade(alembic_config(url), "0014")
    keys, indexes, rows = on_connection(url, _keys)
    assert keys == {"patient_id"} and indexes == {"ix_disclosure_log_patient_at"}
    logged = (2, "Dr. R", 7, "dashboard", "2026-W48")
    assert rows == before[2] == [(1, *logged), (3, *logged)]
    # The viewer's account and the consent go: the log keeps who viewed under which consent. A patient goes: so does
    # their log.
    assert on_connection(url, _delete("DELETE FROM consent WHERE id = 7"))[0][3] == 7
    assert on_connection(url, _delete("DELETE FROM user_account WHERE id = 2"))[0][1] == 2
    assert on_connection(url, _delete("DELETE FROM user_account WHERE id = 3")) == [
        (1, 2, "Dr. R", 7, "dashboard", "2026-W48")
    ]
    command.downgrade(alembic_config(url), "0010r")
    keys, indexes, rows = on_connection(url, _keys)
    assert keys == {"patient_id", "viewer_id", "consent_id"}
    assert indexes == {"ix_disclosure_log_patient_at", "ix_disclosure_log_viewer_id", "ix_disclosure_log_consent_id"}
    assert rows == [(1, None, "Dr. R", None, "dashboard", "2026-W48")]
    command.upgrade(alembic_config(url), "head")


def test_the_access_log_keeps_plain_ids_on_sqlite(tmp_path: Path) -> None:
    _round_trip(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


def test_the_access_log_keeps_plain_ids_on_postgresql() -> None:
    with scratch_postgres() as url:
        _round_trip(url)
