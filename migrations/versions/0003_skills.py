"""skills tables: skill_practice, skill_favourite, skill_assignment

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "skill_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=True),
        sa.Column("card_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("assigned_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("completed_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["patient_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["therapist_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("skill_assignment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_skill_assignment_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_skill_assignment_therapist_id"), ["therapist_id"], unique=False)

    op.create_table(
        "skill_favourite",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("created_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "card_id", name="uq_skill_favourite_user_card"),
    )
    with op.batch_alter_table("skill_favourite", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_skill_favourite_user_id"), ["user_id"], unique=False)

    op.create_table(
        "skill_practice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("started_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("ended_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("distress_before", sa.Integer(), nullable=True),
        sa.Column("distress_after", sa.Integer(), nullable=True),
        sa.Column("helped", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("helped IS NULL OR helped IN ('yes', 'somewhat', 'no')", name="ck_skill_practice_helped"),
        sa.CheckConstraint(
            "distress_after IS NULL OR (distress_after >= 0 AND distress_after <= 10)",
            name="ck_skill_practice_after_range",
        ),
        sa.CheckConstraint(
            "distress_before IS NULL OR (distress_before >= 0 AND distress_before <= 10)",
            name="ck_skill_practice_before_range",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_skill_practice_user_key"),
    )
    with op.batch_alter_table("skill_practice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_skill_practice_user_id"), ["user_id"], unique=False)
        batch_op.create_index("ix_skill_practice_user_started", ["user_id", "started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("skill_practice", schema=None) as batch_op:
        batch_op.drop_index("ix_skill_practice_user_started")
        batch_op.drop_index(batch_op.f("ix_skill_practice_user_id"))
    op.drop_table("skill_practice")

    with op.batch_alter_table("skill_favourite", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_skill_favourite_user_id"))
    op.drop_table("skill_favourite")

    with op.batch_alter_table("skill_assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_skill_assignment_therapist_id"))
        batch_op.drop_index(batch_op.f("ix_skill_assignment_patient_id"))
    op.drop_table("skill_assignment")
