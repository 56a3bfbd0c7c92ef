"""The reminder kinds this app sends, registered with `server.push.kinds` by the domain that decides why.

`push` delivers and knows none of these. A new kind is one `register_kind` call here (or in the module of the
domain that queues it) plus, while the reminder table still checks kinds, the kind added to `ck_reminder_kind` in
that domain's migration. See docs/CONTRIBUTING.md.
"""

from __future__ import annotations

from datetime import timedelta

from server.i18n import lazy_gettext as _l
from server.push.kinds import ReminderKind, register_kind

GROUP = register_kind(
    ReminderKind(
        "group", _l("Group sessions"), window=timedelta(hours=1), replaceable=True, switch="group_enabled"
    )
)
CHECKIN = register_kind(
    ReminderKind(
        "checkin",
        _l("Daily check-in"),
        window=timedelta(hours=4),
        replaceable=True,
        switch="checkin_enabled",
        badge=True,
    )
)
HOMEWORK = register_kind(
    ReminderKind(
        "homework",
        _l("Skill practice from your therapist"),
        window=timedelta(hours=24),
        switch="homework_enabled",
        badge=True,
    )
)
MILESTONE = register_kind(
    ReminderKind("milestone", _l("Milestones"), window=timedelta(hours=24), switch="milestone_enabled")
)
ENCOURAGEMENT = register_kind(ReminderKind("encouragement", _l("Encouragement"), window=timedelta(hours=12)))
NUDGE = register_kind(ReminderKind("nudge", _l("Nudges"), window=timedelta(hours=12)))
