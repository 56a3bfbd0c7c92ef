"""The reminder kinds this app sends, registered with `server.push.kinds` by the domain that decides why.

`push` delivers and knows none of these. A new kind is one `register_kind` call here (or in the module of the
domain that queues it). A switchable kind (`switchable=True`, with the words of its switch, the roles that see it
and any options) appears on the person's reminder settings by itself: the form is built from the registry
(`server.reminders.preferences`) and the choices are rows of `reminder_setting`. See docs/CONTRIBUTING.md.
"""

from __future__ import annotations

from datetime import timedelta

from server.i18n import lazy_gettext as _l
from server.push.kinds import KindOption, ReminderKind, register_kind

DEFAULT_GROUP_MINUTES = 60
DEFAULT_CHECKIN_TIME = "20:00"

GROUP = register_kind(
    ReminderKind(
        "group",
        _l("Group sessions"),
        window=timedelta(hours=1),
        replaceable=True,
        switchable=True,
        setting_label=_l("Remind me before each group"),
        roles=("patient",),
        options=(
            KindOption(
                "minutes_before",
                _l("Minutes before the group starts"),
                "minutes",
                DEFAULT_GROUP_MINUTES,
                lo=5,
                hi=1440,
                hint=_l("Between 5 and 1440 (a whole day)."),
            ),
        ),
    )
)
CHECKIN = register_kind(
    ReminderKind(
        "checkin",
        _l("Daily check-in"),
        window=timedelta(hours=4),
        replaceable=True,
        switchable=True,
        setting_label=_l("Remind me if I haven't checked in yet"),
        roles=("patient",),
        options=(KindOption("time", _l("At"), "time", DEFAULT_CHECKIN_TIME),),
        badge=True,
    )
)
HOMEWORK = register_kind(
    ReminderKind(
        "homework",
        _l("Skill practice from your therapist"),
        window=timedelta(hours=24),
        switchable=True,
        setting_label=_l("Remind me of skill practice my therapist shares with me"),
        roles=("patient",),
        badge=True,
    )
)
MILESTONE = register_kind(
    ReminderKind(
        "milestone",
        _l("Milestones"),
        window=timedelta(hours=24),
        switchable=True,
        setting_label=_l("Milestones the person I support chooses to share"),
        roles=("family",),
    )
)
ENCOURAGEMENT = register_kind(ReminderKind("encouragement", _l("Encouragement"), window=timedelta(hours=12)))
NUDGE = register_kind(ReminderKind("nudge", _l("Nudges"), window=timedelta(hours=12)))
