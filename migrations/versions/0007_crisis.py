"""crisis tables

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import advanced_alchemy.types  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # One safety plan per patient; each section is a JSON list of short items.
    op.create_table(
        "safety_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("warning_signs", sa.JSON(), nullable=False),
        sa.Column("coping_on_my_own", sa.JSON(), nullable=False),
        sa.Column("distractions", sa.JSON(), nullable=False),
        sa.Column("people_to_ask", sa.JSON(), nullable=False),
        sa.Column("professionals", sa.JSON(), nullable=False),
        sa.Column("safe_environment", sa.JSON(), nullable=False),
        sa.Column("reasons_for_recovery", sa.JSON(), nullable=False),
        sa.Column("created_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id"),
    )
    # Clinic crisis lines need no schema change: they live in clinic.settings["crisis_lines"] (JSON).


def downgrade() -> None:
    op.drop_table("safety_plan")
