"""flag_review: how far a therapist has reviewed a patient's dashboard flags

Revision ID: 0013
Revises: 0011
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TYPE = advanced_alchemy.types.DateTimeUTC(timezone=True)


def upgrade() -> None:
    op.create_table(
        "flag_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("reviewed_through", sa.Date(), nullable=False),
        sa.Column("reviewed_at", UTC_TYPE, nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["therapist_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("therapist_id", "patient_id", name="uq_flag_review_pair"),
    )
    with op.batch_alter_table("flag_review", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flag_review_patient_id"), ["patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("flag_review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flag_review_patient_id"))
    op.drop_table("flag_review")
