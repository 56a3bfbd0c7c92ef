"""push tables: push_subscription, reminder, reminder_delivery, reminder_preference

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TYPE = advanced_alchemy.types.DateTimeUTC(timezone=True)


def upgrade() -> None:
    op.create_table(
        "push_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
        sa.Column("p256dh", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("auth", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("device_label", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("created_at", UTC_TYPE, nullable=False),
        sa.Column("last_success_at", UTC_TYPE, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint"),
    )
    with op.batch_alter_table("push_subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_push_subscription_user_id"), ["user_id"], unique=False)

    op.create_table(
        "reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("due_at", UTC_TYPE, nullable=False),
        sa.Column("expires_at", UTC_TYPE, nullable=False),
        sa.Column("urgency", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(length=240), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_TYPE, nullable=False),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("claimed_until", UTC_TYPE, nullable=True),
        sa.Column("created_at", UTC_TYPE, nullable=False),
        sa.Column("finished_at", UTC_TYPE, nullable=True),
        sa.CheckConstraint(
            "kind IN ('group', 'checkin', 'homework', 'milestone', 'encouragement', 'nudge', 'test')",
            name="ck_reminder_kind",
        ),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed', 'dropped')", name="ck_reminder_status"),
        sa.CheckConstraint("urgency IN ('very-low', 'low', 'normal', 'high')", name="ck_reminder_urgency"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reminder_pending_next",
            ["next_attempt_at"],
            unique=False,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )
        batch_op.create_index(batch_op.f("ix_reminder_user_id"), ["user_id"], unique=False)

    op.create_table(
        "reminder_preference",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_enabled", sa.Boolean(), nullable=False),
        sa.Column("group_minutes_before", sa.Integer(), nullable=False),
        sa.Column("checkin_enabled", sa.Boolean(), nullable=False),
        sa.Column("checkin_time", sa.Time(), nullable=False),
        sa.Column("homework_enabled", sa.Boolean(), nullable=False),
        sa.Column("milestone_enabled", sa.Boolean(), nullable=False),
        sa.Column("quiet_start", sa.Time(), nullable=False),
        sa.Column("quiet_end", sa.Time(), nullable=False),
        sa.Column("updated_at", UTC_TYPE, nullable=False),
        sa.CheckConstraint(
            "group_minutes_before >= 5 AND group_minutes_before <= 1440", name="ck_reminder_preference_minutes"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", name="uq_reminder_preference_user"),
    )

    op.create_table(
        "reminder_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reminder_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("at", UTC_TYPE, nullable=False),
        sa.CheckConstraint(
            "outcome IN ('sent', 'retry', 'failed', 'pruned', 'dropped')", name="ck_reminder_delivery_outcome"
        ),
        sa.ForeignKeyConstraint(["reminder_id"], ["reminder.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscription_id"], ["push_subscription.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reminder_delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminder_delivery_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_reminder_delivery_reminder_id"), ["reminder_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reminder_delivery_subscription_id"), ["subscription_id"], unique=False)
        batch_op.create_index(
            "uq_reminder_delivery_sent_once",
            ["reminder_id", "subscription_id"],
            unique=True,
            postgresql_where=sa.text("outcome = 'sent'"),
            sqlite_where=sa.text("outcome = 'sent'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("reminder_delivery", schema=None) as batch_op:
        batch_op.drop_index("uq_reminder_delivery_sent_once")
        batch_op.drop_index(batch_op.f("ix_reminder_delivery_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_reminder_delivery_reminder_id"))
        batch_op.drop_index(batch_op.f("ix_reminder_delivery_at"))
    op.drop_table("reminder_delivery")
    op.drop_table("reminder_preference")
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_user_id"))
        batch_op.drop_index("ix_reminder_pending_next")
    op.drop_table("reminder")
    with op.batch_alter_table("push_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_subscription_user_id"))
    op.drop_table("push_subscription")
