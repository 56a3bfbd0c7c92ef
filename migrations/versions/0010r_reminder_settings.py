"""reminder_setting: one row per person per reminder kind (enabled, options), owned by server/reminders

The per-kind columns of reminder_preference (group_enabled, group_minutes_before, checkin_enabled, checkin_time,
homework_enabled, milestone_enabled) become rows; reminder_preference keeps the quiet hours (delivery, push's).
The reminder table stops naming kinds (ck_reminder_kind goes): the registry in server/push/kinds.py refuses
unknown kinds before anything is written. Downgrade puts the columns, their values and the check back.

Revision ID: 0010r
Revises: 0010
"""

from collections.abc import Sequence
from datetime import time
from typing import Any

import advanced_alchemy.types
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010r"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TYPE = advanced_alchemy.types.DateTimeUTC(timezone=True)
# The kinds ck_reminder_kind named when it went (0008 plus 0011's questionnaire), for the downgrade.
KINDS = ("group", "checkin", "homework", "milestone", "encouragement", "nudge", "test", "questionnaire")
# kind -> (its enabled column, {option: column}) in reminder_preference before this revision
COLUMNS: dict[str, tuple[str, dict[str, str]]] = {
    "group": ("group_enabled", {"minutes_before": "group_minutes_before"}),
    "checkin": ("checkin_enabled", {"time": "checkin_time"}),
    "homework": ("homework_enabled", {}),
    "milestone": ("milestone_enabled", {}),
}
DEFAULTS = {"group_minutes_before": 60, "checkin_time": time(20, 0)}

preference = sa.table(
    "reminder_preference",
    sa.column("user_id", sa.Integer()),
    sa.column("group_enabled", sa.Boolean()),
    sa.column("group_minutes_before", sa.Integer()),
    sa.column("checkin_enabled", sa.Boolean()),
    sa.column("checkin_time", sa.Time()),
    sa.column("homework_enabled", sa.Boolean()),
    sa.column("milestone_enabled", sa.Boolean()),
    sa.column("quiet_start", sa.Time()),
    sa.column("quiet_end", sa.Time()),
    sa.column("updated_at", UTC_TYPE),
)
setting = sa.table(
    "reminder_setting",
    sa.column("user_id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("enabled", sa.Boolean()),
    sa.column("options", sa.JSON()),
    sa.column("updated_at", UTC_TYPE),
)


def _json_option(value: Any) -> Any:
    return f"{value.hour:02d}:{value.minute:02d}" if isinstance(value, time) else value


def upgrade() -> None:
    op.create_table(
        "reminder_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTC_TYPE, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "kind", name="uq_reminder_setting_user_kind"),
    )
    conn = op.get_bind()
    rows = []
    for pref in conn.execute(sa.select(preference)).mappings():
        for kind, (enabled, options) in COLUMNS.items():
            rows.append(
                {
                    "user_id": pref["user_id"],
                    "kind": kind,
                    "enabled": bool(pref[enabled]),
                    "options": {name: _json_option(pref[column]) for name, column in options.items()},
                    "updated_at": pref["updated_at"],
                }
            )
    for start in range(0, len(rows), 500):
        op.bulk_insert(setting, rows[start : start + 500])
    with op.batch_alter_table("reminder_preference", schema=None) as batch_op:
        batch_op.drop_constraint("ck_reminder_preference_minutes", type_="check")
        for enabled, options in COLUMNS.values():
            batch_op.drop_column(enabled)
            for column in options.values():
                batch_op.drop_column(column)
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_constraint("ck_reminder_kind", type_="check")


def downgrade() -> None:
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.create_check_constraint("ck_reminder_kind", "kind IN (" + ", ".join(repr(k) for k in KINDS) + ")")
    with op.batch_alter_table("reminder_preference", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("group_minutes_before", sa.Integer(), nullable=False, server_default="60"))
        batch_op.add_column(sa.Column("checkin_enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("checkin_time", sa.Time(), nullable=False, server_default="20:00:00"))
        batch_op.add_column(sa.Column("homework_enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("milestone_enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.create_check_constraint(
            "ck_reminder_preference_minutes", "group_minutes_before >= 5 AND group_minutes_before <= 1440"
        )
    conn = op.get_bind()
    known = {row.user_id for row in conn.execute(sa.select(preference.c.user_id))}
    values: dict[int, dict[str, Any]] = {}
    for row in conn.execute(sa.select(setting).where(setting.c.kind.in_(list(COLUMNS)))).mappings():
        enabled, options = COLUMNS[row["kind"]]
        person = values.setdefault(row["user_id"], {"updated_at": row["updated_at"]})
        person[enabled] = bool(row["enabled"])
        for name, column in options.items():
            raw = (row["options"] or {}).get(name, DEFAULTS[column])
            person[column] = time.fromisoformat(raw) if column == "checkin_time" and isinstance(raw, str) else raw
    for user_id, person in values.items():
        if user_id in known:
            conn.execute(sa.update(preference).where(preference.c.user_id == user_id).values(**person))
        else:
            quiet = {"quiet_start": time(22, 0), "quiet_end": time(7, 0)}  # push's defaults
            conn.execute(sa.insert(preference).values(user_id=user_id, **quiet, **person))
    op.drop_table("reminder_setting")
