"""sharing tables: consent, disclosure_log, sharing_nudge

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("recipient_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("data_from", sa.Date(), nullable=False),
        sa.Column("starts_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("ends_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("until_program_end", sa.Boolean(), nullable=False),
        sa.Column("wording", sa.Text(), nullable=False),
        sa.Column("signature", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("signed_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("revoked_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("superseded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["patient_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["recipient_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["superseded_by_id"], ["consent.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id", "recipient_id", "version", name="uq_consent_version"),
    )
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index("ix_consent_recipient", ["recipient_id", "patient_id"], unique=False)

    op.create_table(
        "disclosure_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("viewer_id", sa.Integer(), nullable=True),
        sa.Column("viewer_name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["consent_id"], ["consent.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["patient_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["viewer_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("disclosure_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disclosure_log_consent_id"), ["consent_id"], unique=False)
        batch_op.create_index("ix_disclosure_log_patient_at", ["patient_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_disclosure_log_viewer_id"), ["viewer_id"], unique=False)

    op.create_table(
        "sharing_nudge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("created_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["therapist_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id", "local_date", name="uq_sharing_nudge_day"),
    )
    with op.batch_alter_table("sharing_nudge", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sharing_nudge_therapist_id"), ["therapist_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sharing_nudge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_nudge_therapist_id"))
    op.drop_table("sharing_nudge")
    with op.batch_alter_table("disclosure_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disclosure_log_viewer_id"))
        batch_op.drop_index("ix_disclosure_log_patient_at")
        batch_op.drop_index(batch_op.f("ix_disclosure_log_consent_id"))
    op.drop_table("disclosure_log")
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_recipient")
        batch_op.drop_index(batch_op.f("ix_consent_patient_id"))
    op.drop_table("consent")
