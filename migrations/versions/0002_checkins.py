"""checkins tables: daily check-ins, their submissions (idempotency), craving logs, trigger hits,
sobriety dates, sober resets and per-patient check-in preferences.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('checkin',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('mood', sa.Integer(), nullable=False),
    sa.Column('craving', sa.Integer(), nullable=False),
    sa.Column('triggers', sa.JSON(), nullable=False),
    sa.Column('used', sa.Boolean(), nullable=False),
    sa.Column('substances', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('amount', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('sleep_hours', sa.Float(), nullable=True),
    sa.Column('medication', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
    sa.Column('diary', sa.Boolean(), nullable=False),
    sa.Column('emo_sadness', sa.Integer(), nullable=True),
    sa.Column('emo_anger', sa.Integer(), nullable=True),
    sa.Column('emo_fear', sa.Integer(), nullable=True),
    sa.Column('emo_shame', sa.Integer(), nullable=True),
    sa.Column('emo_joy', sa.Integer(), nullable=True),
    sa.Column('urge_use', sa.Integer(), nullable=True),
    sa.Column('urge_self_harm', sa.Integer(), nullable=True),
    sa.Column('urge_quit_treatment', sa.Integer(), nullable=True),
    sa.Column('acted_use', sa.Boolean(), nullable=True),
    sa.Column('acted_self_harm', sa.Boolean(), nullable=True),
    sa.Column('acted_quit_treatment', sa.Boolean(), nullable=True),
    sa.Column('skills_used', sa.Integer(), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('client_created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.CheckConstraint("medication IN ('', 'yes', 'no', 'na')", name='ck_checkin_medication'),
    sa.CheckConstraint('craving >= 0 AND craving <= 10', name='ck_checkin_craving'),
    sa.CheckConstraint('mood >= 0 AND mood <= 10', name='ck_checkin_mood'),
    sa.CheckConstraint('skills_used IS NULL OR (skills_used >= 0 AND skills_used <= 7)', name='ck_checkin_skills'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'idempotency_key', name='uq_checkin_user_key'),
    sa.UniqueConstraint('user_id', 'local_date', name='uq_checkin_user_day')
    )
    op.create_table('checkin_preference',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('diary_card', sa.Boolean(), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('craving_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('intensity', sa.Integer(), nullable=False),
    sa.Column('triggers', sa.JSON(), nullable=False),
    sa.Column('where_with', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('skill_card_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('intensity_after', sa.Integer(), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('payload_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.CheckConstraint("action IN ('skill', 'called', 'left', 'nothing')", name='ck_craving_log_action'),
    sa.CheckConstraint("outcome IN ('', 'passed', 'used')", name='ck_craving_log_outcome'),
    sa.CheckConstraint('intensity >= 0 AND intensity <= 10', name='ck_craving_log_intensity'),
    sa.CheckConstraint('intensity_after IS NULL OR (intensity_after >= 0 AND intensity_after <= 10)', name='ck_craving_log_after'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'idempotency_key', name='uq_craving_log_user_key')
    )
    with op.batch_alter_table('craving_log', schema=None) as batch_op:
        batch_op.create_index('ix_craving_log_user_day', ['user_id', 'local_date'], unique=False)
        batch_op.create_index('ix_craving_log_user_time', ['user_id', 'occurred_at'], unique=False)
    op.create_table('sober_reset',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('substance', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('reset_on', sa.Date(), nullable=False),
    sa.Column('previous_started_on', sa.Date(), nullable=False),
    sa.Column('previous_days', sa.Integer(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sober_reset', schema=None) as batch_op:
        batch_op.create_index('ix_sober_reset_user', ['user_id', 'reset_on'], unique=False)
    op.create_table('sobriety_date',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('substance', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'substance', name='uq_sobriety_date_user_substance')
    )
    op.create_table('trigger_preference',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('custom', sa.JSON(), nullable=False),
    sa.Column('hidden', sa.JSON(), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('checkin_submission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('payload_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('checkin_id', sa.Integer(), nullable=False),
    sa.Column('client_created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['checkin_id'], ['checkin.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'idempotency_key', name='uq_checkin_submission_user_key')
    )
    with op.batch_alter_table('checkin_submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkin_submission_checkin_id'), ['checkin_id'], unique=False)
    op.create_table('trigger_hit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('trigger_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('intensity', sa.Integer(), nullable=False),
    sa.Column('checkin_id', sa.Integer(), nullable=True),
    sa.Column('craving_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['checkin_id'], ['checkin.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['craving_id'], ['craving_log.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('trigger_hit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trigger_hit_checkin_id'), ['checkin_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trigger_hit_craving_id'), ['craving_id'], unique=False)
        batch_op.create_index('ix_trigger_hit_user_day', ['user_id', 'local_date'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('trigger_hit', schema=None) as batch_op:
        batch_op.drop_index('ix_trigger_hit_user_day')
        batch_op.drop_index(batch_op.f('ix_trigger_hit_craving_id'))
        batch_op.drop_index(batch_op.f('ix_trigger_hit_checkin_id'))
    op.drop_table('trigger_hit')
    with op.batch_alter_table('checkin_submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkin_submission_checkin_id'))
    op.drop_table('checkin_submission')
    op.drop_table('trigger_preference')
    op.drop_table('sobriety_date')
    with op.batch_alter_table('sober_reset', schema=None) as batch_op:
        batch_op.drop_index('ix_sober_reset_user')
    op.drop_table('sober_reset')
    with op.batch_alter_table('craving_log', schema=None) as batch_op:
        batch_op.drop_index('ix_craving_log_user_time')
        batch_op.drop_index('ix_craving_log_user_day')
    op.drop_table('craving_log')
    op.drop_table('checkin_preference')
    op.drop_table('checkin')
