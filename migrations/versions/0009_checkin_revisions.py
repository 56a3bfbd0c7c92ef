"""checkin_revision: answers for a day kept visible when two devices checked in without seeing each other

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TYPE = advanced_alchemy.types.DateTimeUTC(timezone=True)


def upgrade() -> None:
    op.create_table(
        "checkin_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkin_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("client_created_at", UTC_TYPE, nullable=True),
        sa.Column("created_at", UTC_TYPE, nullable=False),
        sa.CheckConstraint("reason IN ('replaced', 'older')", name="ck_checkin_revision_reason"),
        sa.ForeignKeyConstraint(["checkin_id"], ["checkin.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("checkin_revision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkin_revision_checkin_id"), ["checkin_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("checkin_revision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkin_revision_checkin_id"))
    op.drop_table("checkin_revision")
