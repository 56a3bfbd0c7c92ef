"""checkin.exercise_hours: the "hours of exercise" check-in measure (server/checkins/measures.py)

Revision ID: 0010
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("checkin", sa.Column("exercise_hours", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_column("exercise_hours")
