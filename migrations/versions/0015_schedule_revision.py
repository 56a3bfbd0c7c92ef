"""schedule_revision: one row whose revision changes with every change to programs, phases, weekly groups, one-off
changes and enrolments

Today and the patient's schedule page read those rows at every request, and what they build from them is the same
until one of them changes. Triggers here give the revision a new random value on every INSERT, UPDATE or DELETE of
those tables (and TRUNCATE on PostgreSQL), in the writing transaction, whatever writes (any process, an admin page,
a script), so a page's statement can ask for the rows only when the revision differs from the one its process built
from (server/schedule/logic.py). An upsert: a row deleted by hand comes back at the next change. Random rather than
a counter: after a backup is restored, a counter would count again through values processes still hold for other
rows.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("program", "program_phase", "group_pattern", "session_exception", "enrolment")
SQLITE_EVENTS = ("insert", "update", "delete")
NEW_REVISION = {
    # SQLite's random() is a signed 64-bit integer; PostgreSQL's is a float in [0, 1), here times 2**62.
    "sqlite": "random()",
    "postgresql": "floor(random() * 4611686018427387904)::bigint",
}


def _bump(dialect: str) -> str:
    return (
        f"INSERT INTO schedule_revision (id, revision) VALUES (1, {NEW_REVISION[dialect]}) "
        "ON CONFLICT (id) DO UPDATE SET revision = excluded.revision"
    )


def upgrade() -> None:
    op.create_table(
        "schedule_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    dialect = op.get_bind().dialect.name
    op.execute(_bump(dialect))
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION bump_schedule_revision() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_bump(dialect)}; RETURN NULL; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_schedule_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bump_schedule_revision()"
            )
        return
    for table in TABLES:
        for event in SQLITE_EVENTS:
            op.execute(
                f"CREATE TRIGGER {table}_{event}_schedule_revision AFTER {event.upper()} ON {table} "
                f"BEGIN {_bump(dialect)}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_schedule_revision ON {table}")
        op.execute("DROP FUNCTION bump_schedule_revision()")
    else:
        for table in TABLES:
            for event in SQLITE_EVENTS:
                op.execute(f"DROP TRIGGER {table}_{event}_schedule_revision")
    op.drop_table("schedule_revision")
