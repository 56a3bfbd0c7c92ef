"""family tables: milestone, family_notification, family_preference, encouragement, family_patient_setting

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> advanced_alchemy.types.DateTimeUTC:
    return advanced_alchemy.types.DateTimeUTC(timezone=True)


def upgrade() -> None:
    op.create_table(
        "milestone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("run_key", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=280), nullable=False),
        sa.Column("achieved_at", _utc(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('sober_days', 'checkin_streak', 'phase_completed', 'program_completed', 'good_news')",
            name="ck_milestone_kind",
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id", "kind", "value", "run_key", name="uq_milestone_once"),
    )
    with op.batch_alter_table("milestone", schema=None) as batch_op:
        batch_op.create_index("ix_milestone_patient_at", ["patient_id", "achieved_at"], unique=False)

    op.create_table(
        "family_notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("pushed_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(["family_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["milestone_id"], ["milestone.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("milestone_id", "family_id", name="uq_family_notification_once"),
    )
    with op.batch_alter_table("family_notification", schema=None) as batch_op:
        batch_op.create_index("ix_family_notification_feed", ["family_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_family_notification_milestone_id"), ["milestone_id"], unique=False)

    op.create_table(
        "family_preference",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["link_id"], ["family_link.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("link_id"),
    )

    op.create_table(
        "encouragement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=280), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("read_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(["family_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["patient_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("family_id", "idempotency_key", name="uq_encouragement_key"),
    )
    with op.batch_alter_table("encouragement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_encouragement_family_id"), ["family_id"], unique=False)
        batch_op.create_index("ix_encouragement_patient_at", ["patient_id", "created_at"], unique=False)

    op.create_table(
        "family_patient_setting",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("receive_encouragement", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("patient_id"),
    )


def downgrade() -> None:
    op.drop_table("family_patient_setting")
    with op.batch_alter_table("encouragement", schema=None) as batch_op:
        batch_op.drop_index("ix_encouragement_patient_at")
        batch_op.drop_index(batch_op.f("ix_encouragement_family_id"))
    op.drop_table("encouragement")
    op.drop_table("family_preference")
    with op.batch_alter_table("family_notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_notification_milestone_id"))
        batch_op.drop_index("ix_family_notification_feed")
    op.drop_table("family_notification")
    with op.batch_alter_table("milestone", schema=None) as batch_op:
        batch_op.drop_index("ix_milestone_patient_at")
    op.drop_table("milestone")
