"""questionnaires: PHQ-9, GAD-7 and BAM-IOP assignments and responses; the "questionnaire" reminder kind

Revision ID: 0011
Revises: 0009
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The reminder table still checks kinds in the database (docs/CONTRIBUTING.md): add this package's kind.
KINDS_BEFORE = ("group", "checkin", "homework", "milestone", "encouragement", "nudge", "test")
KINDS_AFTER = (*KINDS_BEFORE, "questionnaire")


def _kind_check(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(repr(k) for k in kinds) + ")"


def _set_reminder_kinds(kinds: tuple[str, ...]) -> None:
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_constraint("ck_reminder_kind", type_="check")
        batch_op.create_check_constraint("ck_reminder_kind", _kind_check(kinds))


def upgrade() -> None:
    _set_reminder_kinds(KINDS_AFTER)
    op.create_table(
        "questionnaire_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("instrument", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("cadence", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("assigned_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("cadence IN ('weekly', 'biweekly', 'monthly')", name="ck_questionnaire_assignment_cadence"),
        sa.CheckConstraint("instrument IN ('phq9', 'gad7', 'bam_iop')", name="ck_questionnaire_assignment_instrument"),
        sa.ForeignKeyConstraint(["assigned_by_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["patient_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id", "instrument", name="uq_questionnaire_assignment"),
    )
    with op.batch_alter_table("questionnaire_assignment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_questionnaire_assignment_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "questionnaire_response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("instrument", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("instrument_version", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("payload_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("local_date", sa.Date(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("score", sa.JSON(), nullable=True),
        sa.Column("safety", sa.Boolean(), nullable=False),
        sa.Column("started_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("completed_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("client_created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("shared_once_with_id", sa.Integer(), nullable=True),
        sa.Column("shared_once_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("shared_once_wording", sa.Text(), nullable=True),
        sa.Column("followed_up_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("followed_up_by_id", sa.Integer(), nullable=True),
        sa.Column("followup_note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.CheckConstraint("instrument IN ('phq9', 'gad7', 'bam_iop')", name="ck_questionnaire_response_instrument"),
        sa.CheckConstraint("status IN ('draft', 'complete')", name="ck_questionnaire_response_status"),
        sa.ForeignKeyConstraint(["followed_up_by_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["shared_once_with_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_questionnaire_response_key"),
    )
    with op.batch_alter_table("questionnaire_response", schema=None) as batch_op:
        batch_op.create_index(
            "ix_questionnaire_response_user", ["user_id", "instrument", "status", "completed_at"], unique=False
        )


def downgrade() -> None:
    op.execute("DELETE FROM reminder WHERE kind = 'questionnaire'")
    _set_reminder_kinds(KINDS_BEFORE)

    with op.batch_alter_table("questionnaire_response", schema=None) as batch_op:
        batch_op.drop_index("ix_questionnaire_response_user")

    op.drop_table("questionnaire_response")
    with op.batch_alter_table("questionnaire_assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_questionnaire_assignment_patient_id"))

    op.drop_table("questionnaire_assignment")
