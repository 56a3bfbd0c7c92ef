"""disclosure_log: viewer_id and consent_id become plain ids (no foreign key, no index); patient_id keeps its own

An access log records what happened: who viewed (their id, and their name as it was) under which consent. Those
ids are history, read by nobody through a join, and kept as they were when the account or the consent is gone
(the name was already kept for that). Their foreign keys cost a trigger per row (the dashboard logs a row per
patient shown: two hundred triggers and index entries per view, ~2 ms of PostgreSQL's time), and their indexes
served only those keys' ON DELETE. patient_id keeps its key: deleting a patient still deletes their log.

Downgrade puts the keys and indexes back (ids of accounts or consents gone by then become NULL, as the old
ON DELETE SET NULL would have made them).

Revision ID: 0014
Revises: 0010r
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0010r"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFERENCES = {"viewer_id": "user_account", "consent_id": "consent"}


def _log_table(with_references: bool) -> sa.Table:
    """disclosure_log as SQLite's batch mode rebuilds it (it cannot drop a foreign key in place)."""
    metadata = sa.MetaData()
    for parent in {"user_account", "consent"}:
        sa.Table(parent, metadata, sa.Column("id", sa.Integer(), primary_key=True))
    references = {
        column: [sa.ForeignKey(f"{parent}.id", ondelete="SET NULL")] if with_references else []
        for column, parent in REFERENCES.items()
    }
    return sa.Table(
        "disclosure_log",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False),
        sa.Column("viewer_id", sa.Integer(), *references["viewer_id"], nullable=True),
        sa.Column("viewer_name", sa.String(length=120), nullable=False),
        sa.Column("consent_id", sa.Integer(), *references["consent_id"], nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.Index("ix_disclosure_log_patient_at", "patient_id", "at"),
        *(sa.Index(f"ix_disclosure_log_{column}", column) for column in REFERENCES if with_references),
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in REFERENCES:
            op.drop_constraint(f"disclosure_log_{column}_fkey", "disclosure_log", type_="foreignkey")
            op.drop_index(f"ix_disclosure_log_{column}", table_name="disclosure_log")
        return
    with op.batch_alter_table("disclosure_log", copy_from=_log_table(False), recreate="always"):
        pass


def downgrade() -> None:
    for column, parent in REFERENCES.items():
        op.execute(
            f"UPDATE disclosure_log SET {column} = NULL "
            f"WHERE {column} IS NOT NULL AND {column} NOT IN (SELECT id FROM {parent})"
        )
    if op.get_bind().dialect.name == "postgresql":
        for column, parent in REFERENCES.items():
            op.create_foreign_key(
                f"disclosure_log_{column}_fkey", "disclosure_log", parent, [column], ["id"], ondelete="SET NULL"
            )
            op.create_index(f"ix_disclosure_log_{column}", "disclosure_log", [column])
        return
    with op.batch_alter_table("disclosure_log", copy_from=_log_table(True), recreate="always"):
        pass
