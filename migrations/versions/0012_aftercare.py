"""aftercare: discharge outcome on enrolments, the alumni program flag, consents ended with the program, the
aftercare plan, the meeting finder (meetings and favourites) and the check-in's support-meeting answer

Revision ID: 0012
Revises: 0013
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TYPE = advanced_alchemy.types.DateTimeUTC(timezone=True)
TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("enrolment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", TEXT(length=16), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("discharged_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("discharged_at", UTC_TYPE, nullable=True))
        batch_op.create_foreign_key(
            "fk_enrolment_discharged_by", "user_account", ["discharged_by_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alumni", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ended_with_program", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.add_column(sa.Column("support_meeting", TEXT(length=8), nullable=False, server_default=""))

    op.create_table(
        "aftercare_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("next_care", sa.Text(), nullable=False),
        sa.Column("appointments", sa.Text(), nullable=False),
        sa.Column("meetings", sa.Text(), nullable=False),
        sa.Column("supporters", sa.JSON(), nullable=False),
        sa.Column("warning_signs", sa.Text(), nullable=False),
        sa.Column("high_risk", sa.Text(), nullable=False),
        sa.Column("trigger_ids", sa.JSON(), nullable=False),
        sa.Column("after_slip", sa.Text(), nullable=False),
        sa.Column("checkin_days", TEXT(length=7), nullable=False),
        sa.Column("celebrated_enrolment_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTC_TYPE, nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id"),
    )
    op.create_table(
        "meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("slug", TEXT(length=200), nullable=False),
        sa.Column("name", TEXT(length=200), nullable=False),
        sa.Column("day_mask", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=True),
        sa.Column("end_time", sa.Time(), nullable=True),
        sa.Column("types", TEXT(length=300), nullable=False),
        sa.Column("location", TEXT(length=200), nullable=False),
        sa.Column("address", TEXT(length=300), nullable=False),
        sa.Column("region", TEXT(length=200), nullable=False),
        sa.Column("conference_url", TEXT(length=500), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("updated_at", UTC_TYPE, nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinic.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("clinic_id", "slug", name="uq_meeting_clinic_slug"),
    )
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.create_index("ix_meeting_clinic_start", ["clinic_id", "start_time"], unique=False)
    op.create_table(
        "meeting_favourite",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("in_calendar", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TYPE, nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["patient_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id", "meeting_id", name="uq_meeting_favourite"),
    )
    with op.batch_alter_table("meeting_favourite", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_favourite_meeting_id"), ["meeting_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("meeting_favourite", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_favourite_meeting_id"))
    op.drop_table("meeting_favourite")
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_index("ix_meeting_clinic_start")
    op.drop_table("meeting")
    op.drop_table("aftercare_plan")
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_column("support_meeting")
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_column("ended_with_program")
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.drop_column("alumni")
    with op.batch_alter_table("enrolment", schema=None) as batch_op:
        batch_op.drop_constraint("fk_enrolment_discharged_by", type_="foreignkey")
        batch_op.drop_column("discharged_at")
        batch_op.drop_column("discharged_by_id")
        batch_op.drop_column("outcome")
