"""Weekly summaries: what a therapist sees of one patient-week, built only from the categories the patient shares.

`weekly_summary(db, request, thresholds)` computes one patient-week; `weekly_summaries(db, requests, thresholds)`
computes many (the dashboard: many patients, each in their own current week) in a fixed number of queries
whatever the number of patients. Both load with the same `load_week_data` and build with the same
`build_summary`, so the two can never disagree.

Rules, in one place:
- A week is Monday–Sunday in the patient's timezone (`server.sharing.weeks.Week`). Only days from the consent's
  `data_from` up to the patient's local today are counted ("visible days"); nothing outside them is loaded.
- Check-in adherence counts check-ins on visible days; it is shown with any check-in category.
- Mood: average, lowest and highest of the week's check-ins, a value per day, and the change from the previous
  week's average (the previous week is also cut at `data_from`). Sleep: average hours.
- Cravings: average of the check-ins' craving; the peak is the highest of check-in cravings and craving logs
  (a craving log gives the time of day and its triggers). A "high day" has a craving ≥ the clinic's level in
  either. Top triggers count trigger ticks on check-ins and craving logs.
- Substance use: days whose check-in says used, plus days with a craving log that ended in use.
- Diary card: highest urge of each kind (0–5) and whether any was acted on, per day.
- Skill practice: practices started in the week's UTC window, most practised cards, average distress drop;
  homework completed in the week and still open at its end.
- Attendance: sessions that started in the week before now (not cancelled) plus any marked; attended / missed
  as marked.
- Notes: check-in notes and craving-log notes, only with the "notes" category.
- Flags (clinic thresholds): no check-in for N+ days in a row (finished days only); craving ≥ level on M+ days;
  any use; self-harm urge ≥ K; missed ≥ G groups; mood average down ≥ D points from the previous week.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from babel.dates import format_date
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.checkins import measures
from server.checkins.measures import Measure
from server.checkins.models import CheckIn, CravingLog, SobrietyDate, TriggerPreference
from server.checkins.triggers import TriggerSet, build_set
from server.i18n import current_locale, ngettext
from server.i18n import gettext as _
from server.schedule import logic as schedule
from server.schedule.models import Attendance
from server.sharing.thresholds import Thresholds
from server.sharing.weeks import Week, local_midnight, local_moment
from server.skills.logic import card_title
from server.skills.models import SkillAssignment, SkillPractice

CHECKIN_CATEGORIES = frozenset({"mood_sleep", "cravings_triggers", "substance_use", "diary_card", "notes"})
URGE_KINDS = ("use", "self_harm", "quit_treatment")


# --- what is asked, and what comes back --------------------------------------------------------------------


@dataclass(frozen=True)
class WeekRequest:
    patient_id: int
    timezone: str
    week: Week
    categories: frozenset[str]
    data_from: date  # the consent's first visible local day
    today: date  # the patient's local today
    now: datetime  # UTC
    history_days: int = 0  # extra days of mood/craving before the week (dashboard sparklines)

    @property
    def key(self) -> tuple[int, date]:
        return (self.patient_id, self.week.monday)

    @property
    def visible_from(self) -> date:
        return max(self.week.monday, self.data_from)

    @property
    def visible_to(self) -> date:
        return min(self.week.sunday, self.today)

    @property
    def load_from(self) -> date:
        """The oldest local day any rule looks at: the previous week (mood change) or the sparkline history."""
        return max(self.data_from, self.week.monday - timedelta(days=max(7, self.history_days)))

    def shares(self, *categories: str) -> bool:
        return any(c in self.categories for c in categories)


@dataclass(frozen=True)
class Flag:
    key: str  # no_checkin | cravings | use | self_harm | missed_groups | mood_drop
    label: str


@dataclass(frozen=True)
class DiaryDay:
    day: date
    urges: dict[str, int | None]
    acted: dict[str, bool | None]
    skills_used: int | None


@dataclass
class WeeklySummary:
    patient_id: int
    week: Week
    categories: frozenset[str]
    visible_from: date
    visible_to: date
    days_counted: int = 0
    # adherence (any check-in category)
    checkin_days: int | None = None
    checkin_dates: list[date] = field(default_factory=list)
    # mood_sleep
    mood_avg: float | None = None
    mood_min: int | None = None
    mood_max: int | None = None
    mood_by_day: list[tuple[date, int | None]] = field(default_factory=list)
    mood_prev_avg: float | None = None
    mood_change: float | None = None
    # cravings_triggers
    craving_avg: float | None = None
    craving_peak: int | None = None
    craving_peak_day: date | None = None
    craving_peak_when: str = ""
    craving_high_days: int = 0
    craving_by_day: list[tuple[date, int | None]] = field(default_factory=list)
    craving_logs: int = 0
    top_triggers: list[tuple[str, int]] = field(default_factory=list)
    # substance_use
    use_days: list[date] | None = None
    # diary_card
    diary_days: list[DiaryDay] = field(default_factory=list)
    urge_max: dict[str, int | None] = field(default_factory=dict)
    acted_on: dict[str, bool] = field(default_factory=dict)
    # skill_practice
    skills_count: int | None = None
    skills_top: list[tuple[str, int]] = field(default_factory=list)
    skills_avg_drop: float | None = None
    homework_done: list[str] = field(default_factory=list)
    homework_open: list[str] = field(default_factory=list)
    # attendance
    groups_scheduled: int | None = None
    groups_attended: int = 0
    groups_missed: int = 0
    # notes
    notes: list[tuple[date, str]] = field(default_factory=list)
    # history for sparklines (dashboard): (day, value) from load_from to visible_to
    mood_history: list[tuple[date, int | None]] = field(default_factory=list)
    craving_history: list[tuple[date, int | None]] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    highlights: list[str] = field(default_factory=list)
    # the spec's measures with `summary=True` in a shared category: name -> the week's aggregate
    measures: dict[str, Any] = field(default_factory=dict)

    @property
    def sleep_avg(self) -> float | None:
        value = self.measures.get("sleep_hours")
        return float(value) if value is not None else None

    def measure_figures(self, category: str) -> list[tuple[Measure, Any]]:
        """The category's generic measures with their aggregate for the week (only if the category is shared)."""
        if not self.shares(category):
            return []
        return [(m, self.measures.get(m.name)) for m in measures.for_category(category, summary=True)]

    @property
    def empty_window(self) -> bool:
        return self.visible_from > self.visible_to

    def shares(self, *categories: str) -> bool:
        return any(c in self.categories for c in categories)

    @property
    def shows_adherence(self) -> bool:
        return bool(self.categories & CHECKIN_CATEGORIES)


# --- loading -------------------------------------------------------------------------------------------------


_NO_URGES: dict[str, Any] = dict.fromkeys(URGE_KINDS)
# Read for the week itself: the diary card's columns and every measure the summary shows generically.
_WEEK_MEASURES = tuple(
    dict.fromkeys(
        [*(f"urge_{k}" for k in URGE_KINDS), *(f"acted_{k}" for k in URGE_KINDS), "skills_used"]
        + [m.name for m in measures.MEASURES if m.summary]
    )
)


@dataclass(slots=True)
class _CheckinRow:
    """One check-in. Days outside the week itself carry only mood and craving (for trends and sparklines)."""

    day: date
    mood: int
    craving: int
    used: bool = False
    values: dict[str, Any] = field(default_factory=dict)  # the spec's measures (server/checkins/measures.py)
    triggers: list[str] = field(default_factory=list)
    urges: dict[str, Any] = field(default_factory=lambda: _NO_URGES)
    acted: dict[str, Any] = field(default_factory=lambda: _NO_URGES)
    skills_used: int | None = None
    diary: bool = False


@dataclass
class _CravingRow:
    day: date
    at: datetime  # UTC
    intensity: int
    triggers: list[str]
    outcome: str


@dataclass
class PatientData:
    checkins: dict[date, _CheckinRow] = field(default_factory=dict)
    cravings: list[_CravingRow] = field(default_factory=list)
    notes: list[tuple[date, datetime | None, str]] = field(default_factory=list)
    practices: list[tuple[str, datetime, int | None, int | None]] = field(default_factory=list)
    assignments: list[tuple[str, datetime, datetime | None]] = field(default_factory=list)
    occurrences: list[schedule.Occurrence] = field(default_factory=list)
    marks: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    triggers: TriggerSet | None = None


def _ids(requests: Sequence[WeekRequest], *categories: str) -> list[int]:
    return sorted({r.patient_id for r in requests if r.shares(*categories)})


def _dates(requests: Sequence[WeekRequest], ids: Iterable[int]) -> tuple[date, date]:
    wanted = set(ids)
    chosen = [r for r in requests if r.patient_id in wanted]
    return min(r.load_from for r in chosen), max(r.visible_to for r in chosen)


def _week_dates(requests: Sequence[WeekRequest], ids: Iterable[int]) -> tuple[date, date]:
    wanted = set(ids)
    chosen = [r for r in requests if r.patient_id in wanted]
    return min(r.visible_from for r in chosen), max(r.visible_to for r in chosen)


def _utc_window(requests: Sequence[WeekRequest], ids: Iterable[int]) -> tuple[datetime, datetime]:
    wanted = set(ids)
    chosen = [r for r in requests if r.patient_id in wanted]
    start = min(local_midnight(r.visible_from, r.timezone) for r in chosen)
    end = max(local_midnight(r.visible_to + timedelta(days=1), r.timezone) for r in chosen)
    return start, end


async def load_week_data(db: AsyncSession, requests: Sequence[WeekRequest]) -> dict[int, PatientData]:
    """Everything the rules need for these patient-weeks, in at most a dozen queries whatever their number.

    Each table is read only for the patients who share the category it belongs to, and only over the union of
    their visible windows; `build_summary` then keeps each request to its own window.
    """
    data: dict[int, PatientData] = defaultdict(PatientData)
    live = [r for r in requests if r.load_from <= r.visible_to]
    if not live:
        return data

    ids = _ids(live, *CHECKIN_CATEGORIES, *measures.checkin_categories())
    if ids:
        # Two reads: mood and craving over the longer span (previous week, sparklines), then the rest of the
        # columns over the weeks themselves only, so a dashboard doesn't decode a month of JSON per patient.
        first, last = _dates(live, ids)
        rows = await db.execute(
            select(CheckIn.user_id, CheckIn.local_date, CheckIn.mood, CheckIn.craving).where(
                CheckIn.user_id.in_(ids),  # type: ignore[attr-defined]
                CheckIn.local_date >= first,
                CheckIn.local_date <= last,
            )
        )
        for uid, day, mood, craving in rows:
            data[uid].checkins[day] = _CheckinRow(day=day, mood=int(mood), craving=int(craving))
        week_first, _week_last = _week_dates(live, ids)
        table = CheckIn.__table__.c  # type: ignore[attr-defined]
        rows = await db.execute(
            select(
                table.user_id,
                table.local_date,
                table.used,
                table.triggers,
                table.diary,
                *(table[name] for name in _WEEK_MEASURES),
            ).where(table.user_id.in_(ids), table.local_date >= week_first, table.local_date <= last)
        )
        for row in rows.mappings():
            found = data[row["user_id"]].checkins.get(row["local_date"])
            if found is None:
                continue  # written between the two reads: leave it for the next request
            found.used = bool(row["used"])
            found.triggers = list(row["triggers"] or [])
            found.diary = bool(row["diary"])
            found.values = {name: row[name] for name in _WEEK_MEASURES}
            found.urges = {kind: row[f"urge_{kind}"] for kind in URGE_KINDS}
            found.acted = {kind: row[f"acted_{kind}"] for kind in URGE_KINDS}
            found.skills_used = row["skills_used"]

    ids = _ids(live, "cravings_triggers", "substance_use")
    if ids:
        start, end = _utc_window(live, ids)
        rows = await db.execute(
            select(
                CravingLog.user_id,
                CravingLog.local_date,
                CravingLog.occurred_at,
                CravingLog.intensity,
                CravingLog.triggers,
                CravingLog.outcome,
            ).where(
                CravingLog.user_id.in_(ids),  # type: ignore[attr-defined]
                CravingLog.occurred_at >= start,
                CravingLog.occurred_at < end,
            )
        )
        for uid, day, at, intensity, triggers, outcome in rows:
            data[uid].cravings.append(_CravingRow(day, at, int(intensity), list(triggers or []), outcome or ""))

    ids = _ids(live, "cravings_triggers")
    if ids:
        prefs = await db.scalars(select(TriggerPreference).where(TriggerPreference.user_id.in_(ids)))  # type: ignore[attr-defined]
        for pref in prefs:
            data[pref.user_id].triggers = build_set(pref)  # patients without their own triggers use the default set

    ids = _ids(live, "notes")
    if ids:
        first, last = _week_dates(live, ids)
        rows = await db.execute(
            select(CheckIn.user_id, CheckIn.local_date, CheckIn.note).where(
                CheckIn.user_id.in_(ids),  # type: ignore[attr-defined]
                CheckIn.local_date >= first,
                CheckIn.local_date <= last,
                CheckIn.note != "",
            )
        )
        for uid, day, note in rows:
            data[uid].notes.append((day, None, note))
        start, end = _utc_window(live, ids)
        rows = await db.execute(
            select(CravingLog.user_id, CravingLog.local_date, CravingLog.occurred_at, CravingLog.note).where(
                CravingLog.user_id.in_(ids),  # type: ignore[attr-defined]
                CravingLog.occurred_at >= start,
                CravingLog.occurred_at < end,
                CravingLog.note != "",
            )
        )
        for uid, day, at, note in rows:
            data[uid].notes.append((day, at, note))

    ids = _ids(live, "skill_practice")
    if ids:
        start, end = _utc_window(live, ids)
        rows = await db.execute(
            select(
                SkillPractice.user_id,
                SkillPractice.card_id,
                SkillPractice.started_at,
                SkillPractice.distress_before,
                SkillPractice.distress_after,
            ).where(
                SkillPractice.user_id.in_(ids),  # type: ignore[attr-defined]
                SkillPractice.started_at >= start,
                SkillPractice.started_at < end,
            )
        )
        for uid, card, at, before, after in rows:
            data[uid].practices.append((card, at, before, after))
        rows = await db.execute(
            select(
                SkillAssignment.patient_id,
                SkillAssignment.card_id,
                SkillAssignment.assigned_at,
                SkillAssignment.completed_at,
            ).where(SkillAssignment.patient_id.in_(ids), SkillAssignment.assigned_at < end)  # type: ignore[attr-defined]
        )
        for uid, card, assigned, completed in rows:
            data[uid].assignments.append((card, assigned, completed))

    ids = _ids(live, "attendance")
    if ids:
        start, end = _utc_window(live, ids)
        wanted = set(ids)
        if len(ids) == 1:
            occurrences = [(ids[0], o) for o in await schedule.sessions_for_patient(db, ids[0], start, end)]
        else:
            occurrences = await schedule.occurrences_starting_between(db, start, end, include_cancelled=True)
        for uid, occ in occurrences:
            if uid in wanted:
                data[uid].occurrences.append(occ)
        rows = await db.execute(
            select(Attendance.patient_id, Attendance.occurrence_id, Attendance.starts_at, Attendance.status).where(
                Attendance.patient_id.in_(ids),  # type: ignore[attr-defined]
                Attendance.starts_at >= start,
                Attendance.starts_at < end,
            )
        )
        for uid, occurrence_id, starts_at, status in rows:
            data[uid].marks[occurrence_id] = (starts_at, status)
    return data


async def sober_days(db: AsyncSession, requests: Sequence[WeekRequest]) -> dict[int, int]:
    """Overall sober days (patient's local today − sobriety date) for patients who share substance use."""
    ids = _ids(requests, "substance_use")
    if not ids:
        return {}
    today = {r.patient_id: r.today for r in requests}
    rows = await db.execute(
        select(SobrietyDate.user_id, SobrietyDate.started_on).where(
            SobrietyDate.user_id.in_(ids),  # type: ignore[attr-defined]
            SobrietyDate.substance == "",
        )
    )
    return {uid: max(0, (today[uid] - started).days) for uid, started in rows}


# --- the rules -----------------------------------------------------------------------------------------------


_DEFAULT_TRIGGERS: dict[str, TriggerSet] = {}


def default_triggers() -> TriggerSet:
    """The default trigger labels in the current language, built once per language."""
    locale = current_locale.get()
    if locale not in _DEFAULT_TRIGGERS:
        _DEFAULT_TRIGGERS[locale] = build_set(None)
    return _DEFAULT_TRIGGERS[locale]


def mean(values: Sequence[float]) -> float:
    # statistics.mean is exact (Fractions) and ten times slower; floats are plenty for one decimal place.
    return sum(values) / len(values)


def weekday_name(day: date) -> str:
    return format_date(day, "EEEE", locale=current_locale.get())


def _part_of_day(moment: datetime) -> str:
    hour = moment.hour
    day = weekday_name(moment.date())
    if 5 <= hour < 12:
        return _("%(day)s morning") % {"day": day}
    if 12 <= hour < 17:
        return _("%(day)s afternoon") % {"day": day}
    if 17 <= hour < 22:
        return _("%(day)s evening") % {"day": day}
    return _("%(day)s night") % {"day": day}


def _days_list(days: Sequence[date]) -> str:
    names = [weekday_name(d) for d in days]
    if len(names) <= 1:
        return "".join(names)
    return _("%(first)s and %(last)s") % {"first": ", ".join(names[:-1]), "last": names[-1]}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value + 0.0, 1)


def _fmt(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _in_days(day: date, first: date, last: date) -> bool:
    return first <= day <= last


def build_summary(request: WeekRequest, data: PatientData | None, thresholds: Thresholds) -> WeeklySummary:
    """Apply the rules to one patient-week. Reads nothing the request's categories don't cover."""
    data = data or PatientData()
    summary = WeeklySummary(
        patient_id=request.patient_id,
        week=request.week,
        categories=request.categories,
        visible_from=request.visible_from,
        visible_to=request.visible_to,
    )
    first, last = request.visible_from, request.visible_to
    if first > last:
        return summary
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    summary.days_counted = len(days)
    start_utc = local_midnight(first, request.timezone)
    end_utc = local_midnight(last + timedelta(days=1), request.timezone)
    checkins = {d: row for d, row in data.checkins.items() if _in_days(d, first, last)}
    cravings = [c for c in data.cravings if _in_days(c.day, first, last) and start_utc <= c.at < end_utc]
    t = thresholds
    flags: list[Flag] = []
    highlights: list[str] = []

    if summary.shows_adherence:
        summary.checkin_days = len(checkins)
        summary.checkin_dates = sorted(checkins)
        # Gaps count finished days only: today may still bring a check-in (but one today ends a gap).
        finished = [d for d in days if d < request.today or d in checkins]
        run = longest = 0
        for day in finished:
            run = 0 if day in checkins else run + 1
            longest = max(longest, run)
        if longest >= t.no_checkin_days:
            flags.append(
                Flag(
                    "no_checkin",
                    ngettext("No check-in for %(num)s day", "No check-in for %(num)s days", longest) % {"num": longest},
                )
            )
        if not checkins and finished:
            highlights.append(_("No check-ins this week."))
        elif checkins and run >= 2:
            highlights.append(_("No check-ins since %(day)s.") % {"day": weekday_name(max(checkins))})

    if request.shares("mood_sleep"):
        moods = [checkins[d].mood for d in days if d in checkins]
        summary.mood_by_day = [(d, checkins[d].mood if d in checkins else None) for d in request.week.days if d <= last]
        if moods:
            summary.mood_avg = _round(mean(moods))
            summary.mood_min, summary.mood_max = min(moods), max(moods)
            lowest = min((d for d in days if d in checkins), key=lambda d: (checkins[d].mood, d))
            highlights.append(
                _("Mood averaged %(avg)s out of 10, lowest on %(day)s (%(low)s).")
                % {"avg": _fmt(summary.mood_avg or 0), "day": weekday_name(lowest), "low": summary.mood_min}
            )
        prev_first = max(request.week.monday - timedelta(days=7), request.data_from)
        prev_last = request.week.monday - timedelta(days=1)
        prev = [row.mood for d, row in data.checkins.items() if _in_days(d, prev_first, prev_last)]
        if prev:
            summary.mood_prev_avg = _round(mean(prev))
        if moods and prev:
            summary.mood_change = _round(mean(moods) - mean(prev))
            change = summary.mood_change or 0.0
            if -change >= t.mood_drop:
                flags.append(Flag("mood_drop", _("Mood down %(n)s points") % {"n": _fmt(-change)}))
            if abs(change) >= t.mood_drop:
                word = _("down") if change < 0 else _("up")
                highlights.append(
                    _("Mood is %(word)s %(n)s points on the week before.") % {"word": word, "n": _fmt(abs(change))}
                )

    if request.shares("cravings_triggers"):
        labels = data.triggers or default_triggers()
        values = [checkins[d].craving for d in days if d in checkins]
        summary.craving_avg = _round(mean(values)) if values else None
        summary.craving_by_day = [
            (d, checkins[d].craving if d in checkins else None) for d in request.week.days if d <= last
        ]
        summary.craving_logs = len(cravings)
        high_days = {d for d in days if d in checkins and checkins[d].craving >= t.craving_level}
        high_days |= {c.day for c in cravings if c.intensity >= t.craving_level}
        summary.craving_high_days = len(high_days)
        # The peak: the strongest craving; a craving log wins a tie on the same day because it knows the time.
        candidates: list[tuple[int, int, date, datetime | None, list[str]]] = []
        for d in days:
            if d in checkins:
                candidates.append((checkins[d].craving, 0, d, None, checkins[d].triggers))
        for c in cravings:
            candidates.append((c.intensity, 1, c.day, c.at, c.triggers))
        if candidates:
            peak = max(candidates, key=lambda x: (x[0], x[1], -x[2].toordinal()))
            summary.craving_peak, summary.craving_peak_day = peak[0], peak[2]
            when = _part_of_day(local_moment(peak[3], request.timezone)) if peak[3] else weekday_name(peak[2])
            summary.craving_peak_when = when
            if peak[0] > 0:
                text = _("Cravings peaked on %(when)s (%(n)s out of 10)") % {"when": when, "n": peak[0]}
                if peak[4]:
                    text = _("Cravings peaked on %(when)s (%(n)s out of 10), after “%(trigger)s”") % {
                        "when": when,
                        "n": peak[0],
                        "trigger": labels.label(peak[4][0]),
                    }
                highlights.append(text + ".")
        if summary.craving_high_days >= t.craving_days:
            flags.append(
                Flag(
                    "cravings",
                    _("Craving %(level)s+ on %(n)s days") % {"level": t.craving_level, "n": summary.craving_high_days},
                )
            )
        ticks: Counter[str] = Counter()
        for d in days:
            if d in checkins:
                ticks.update(set(checkins[d].triggers))
        for c in cravings:
            ticks.update(set(c.triggers))
        top = sorted(ticks.items(), key=lambda kv: (-kv[1], labels.label(kv[0]).casefold()))[:3]
        summary.top_triggers = [(labels.label(tid), n) for tid, n in top]
        if top and top[0][1] >= 2:
            highlights.append(
                _("“%(trigger)s” came up %(n)s times.") % {"trigger": labels.label(top[0][0]), "n": top[0][1]}
            )

    if request.shares("substance_use"):
        used = {d for d in days if d in checkins and checkins[d].used}
        used |= {c.day for c in cravings if c.outcome == "used"}
        summary.use_days = sorted(used)
        if len(used) >= t.use_days:
            flags.append(
                Flag("use", ngettext("Used on %(num)s day", "Used on %(num)s days", len(used)) % {"num": len(used)})
            )
        if used:
            highlights.append(_("Used on %(days)s.") % {"days": _days_list(summary.use_days)})

    if request.shares("diary_card"):
        cards = [checkins[d] for d in days if d in checkins and checkins[d].diary]
        summary.diary_days = [DiaryDay(r.day, r.urges, r.acted, r.skills_used) for r in cards]
        for kind in URGE_KINDS:
            levels = [r.urges[kind] for r in cards if r.urges[kind] is not None]
            summary.urge_max[kind] = max(levels) if levels else None  # type: ignore[type-var]
            summary.acted_on[kind] = any(bool(r.acted[kind]) for r in cards)
        self_harm = summary.urge_max.get("self_harm")
        if self_harm is not None and self_harm >= t.self_harm_urge:
            day = min(r.day for r in cards if r.urges["self_harm"] == self_harm)
            flags.append(Flag("self_harm", _("Self-harm urge %(n)s of 5") % {"n": self_harm}))
            highlights.append(
                _("The urge to self-harm reached %(n)s of 5 on %(day)s.") % {"n": self_harm, "day": weekday_name(day)}
            )
        acted_days = sorted({r.day for r in cards for kind in URGE_KINDS if r.acted[kind]})
        if acted_days:
            highlights.append(_("Acted on an urge on %(days)s.") % {"days": _days_list(acted_days)})

    if request.shares("skill_practice"):
        practices = [p for p in data.practices if start_utc <= p[1] < end_utc]
        summary.skills_count = len(practices)
        counts = Counter(p[0] for p in practices)
        summary.skills_top = [
            (card_title(card), n)
            for card, n in sorted(counts.items(), key=lambda kv: (-kv[1], card_title(kv[0]).casefold()))[:3]
        ]
        drops = [p[2] - p[3] for p in practices if p[2] is not None and p[3] is not None]
        summary.skills_avg_drop = _round(mean(drops)) if drops else None
        summary.homework_done = [
            card_title(card) for card, _a, done in data.assignments if done is not None and start_utc <= done < end_utc
        ]
        summary.homework_open = [
            card_title(card)
            for card, assigned, done in data.assignments
            if assigned < end_utc and (done is None or done >= end_utc)
        ]
        if practices:
            text = ngettext("Practised skills %(num)s time", "Practised skills %(num)s times", len(practices)) % {
                "num": len(practices)
            }
            if summary.skills_avg_drop is not None:
                text += " " + _("(distress down %(n)s points on average)") % {"n": _fmt(summary.skills_avg_drop)}
            highlights.append(text + ".")
        if summary.homework_done or summary.homework_open:
            total = len(summary.homework_done) + len(summary.homework_open)
            highlights.append(
                _("Finished %(done)s of %(total)s assigned skills.")
                % {"done": len(summary.homework_done), "total": total}
            )

    if request.shares("attendance"):
        cutoff = min(end_utc, request.now)
        scheduled = {o.occurrence_id for o in data.occurrences if not o.cancelled and start_utc <= o.starts_at < cutoff}
        marks = {oid: status for oid, (at, status) in data.marks.items() if start_utc <= at < end_utc}
        every = scheduled | set(marks)
        summary.groups_scheduled = len(every)
        summary.groups_attended = sum(1 for s in marks.values() if s == "attended")
        summary.groups_missed = sum(1 for s in marks.values() if s == "missed")
        if summary.groups_missed >= t.missed_groups:
            flags.append(
                Flag(
                    "missed_groups",
                    ngettext("Missed %(num)s group", "Missed %(num)s groups", summary.groups_missed)
                    % {"num": summary.groups_missed},
                )
            )
        if every:
            highlights.append(
                _("Went to %(n)s of %(total)s groups.") % {"n": summary.groups_attended, "total": len(every)}
            )

    if request.shares("notes"):
        kept = [(d, at, text) for d, at, text in data.notes if _in_days(d, first, last)]
        kept = [(d, at, text) for d, at, text in kept if at is None or start_utc <= at < end_utc]
        kept.sort(key=lambda n: (n[0], n[1] is not None, n[1] or datetime.min.replace(tzinfo=start_utc.tzinfo)))
        summary.notes = [(d, text) for d, _at, text in kept]

    if request.history_days:
        span_first = request.load_from
        span = [span_first + timedelta(days=i) for i in range((last - span_first).days + 1)]
        if request.shares("mood_sleep"):
            summary.mood_history = [(d, data.checkins[d].mood if d in data.checkins else None) for d in span]
        if request.shares("cravings_triggers"):
            summary.craving_history = [(d, data.checkins[d].craving if d in data.checkins else None) for d in span]

    for measure in measures.MEASURES:
        if measure.summary and measure.category and request.shares(measure.category):
            answers = [checkins[d].values.get(measure.name) for d in days if d in checkins]
            summary.measures[measure.name] = measure.aggregate_of(answers)

    summary.flags = flags
    summary.highlights = highlights
    return summary


async def weekly_summaries(
    db: AsyncSession, requests: Sequence[WeekRequest], thresholds: Thresholds | dict[int, Thresholds]
) -> dict[tuple[int, date], WeeklySummary]:
    """Many patient-weeks at once, keyed by (patient id, Monday). A fixed number of queries."""
    data = await load_week_data(db, requests)
    result: dict[tuple[int, date], WeeklySummary] = {}
    for request in requests:
        t = thresholds.get(request.patient_id, Thresholds()) if isinstance(thresholds, dict) else thresholds
        result[request.key] = build_summary(request, data.get(request.patient_id), t)
    return result


async def weekly_summary(db: AsyncSession, request: WeekRequest, thresholds: Thresholds) -> WeeklySummary:
    """One patient-week (the same code path as the batch, with a batch of one)."""
    return (await weekly_summaries(db, [request], thresholds))[request.key]
