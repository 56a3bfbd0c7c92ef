"""Skill practice logic shared with other domains.

Public functions (safe to call from check-ins, today, progress and sharing):

* :func:`most_helpful_cards` ``(db, user_id, limit=3) -> list[SkillCard]`` — the cards with the largest
  average distress drop for this person (practices with both ratings, positive drop only; ties by number of
  practices, then title), filled up with urge surfing, TIPP and STOP.
* :func:`helpful_card_stats` ``(db, user_id, limit=None) -> list[HelpfulCard]`` — the same ranking with numbers.
* :func:`suggested_card` ``(db, user, local_date) -> SkillCard`` — one card for the Today page; changes every day,
  deterministic for a given person and day, and every third day picks from favourites / helpful cards.
* :func:`practice_counts` ``(db, user_id, start_utc, end_utc) -> dict[card_id, n]`` — most practised first.
* :func:`weekly_practice_summary` ``(db, user_id, start_utc, end_utc) -> WeeklySummary`` — a dict
  ``{"count": int, "cards": [(card_id, title, n)], "avg_drop": float | None}`` for the therapist's weekly summary.
* :func:`practices_on_local_date` ``(db, user, local_date) -> list[SkillPractice]`` — practices that started on
  that calendar day in the person's time zone (for the diary card's "skills used"); :func:`card_title` names them.
* :func:`assign_card` ``(db, patient_id, therapist_id, card_id, note="", due_on=None) -> SkillAssignment``.
* :func:`open_assignments` ``(db, patient_id) -> list[SkillAssignment]``.
* :func:`today_context` / :func:`progress_context` — what ``skills/_today_panel.html`` and
  ``skills/_progress_panel.html`` need.
* :func:`offline_urls` — every skills URL the "use offline" switch pre-caches.

Start and end bounds are half-open: ``start_utc <= started_at < end_utc``.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_time
from sqlalchemy import Integer, Select, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from server.accounts.models import User
from server.db import as_utc, compose, from_json, json_rows, read_composed, rowcount, table_of, utcnow
from server.i18n import current_locale, ngettext
from server.i18n import gettext as _
from server.i18n import gettext as translate_text  # card text: a name Babel's extractor doesn't pick up
from server.localtime import zone_for
from server.skills.catalogue import Module, SkillCard, Timer, default_catalogue
from server.skills.models import SkillAssignment, SkillFavourite, SkillPractice
from server.web.static import static_url

__all__ = [
    "FALLBACK_CARD_IDS",
    "HelpfulCard",
    "WeeklySummary",
    "assign_card",
    "card_title",
    "favourite_ids",
    "helpful_card_stats",
    "localised",
    "localised_module",
    "most_helpful_cards",
    "offline_urls",
    "open_assignments",
    "practice_counts",
    "practices_on_local_date",
    "progress_context",
    "recent_card_ids",
    "suggested_card",
    "timer_text",
    "today_context",
    "weekly_practice_summary",
]

#: Offered when a person has no helpful history yet (or too little to fill the list).
FALLBACK_CARD_IDS: tuple[str, ...] = ("urge-surfing", "tipp", "stop")

# Every third day the Today suggestion comes from the person's own favourites and helpful cards.
_PREFERRED_EVERY = 3


@dataclass(frozen=True, slots=True)
class HelpfulCard:
    card: SkillCard
    avg_drop: float
    count: int


class WeeklySummary(TypedDict):
    count: int
    cards: list[tuple[str, str, int]]
    avg_drop: float | None


def card_title(card_id: str) -> str:
    """The card's title, or its id if the card has been retired from the catalogue."""
    card = default_catalogue().by_id(card_id)
    return card.title if card is not None else card_id


def localised(card: SkillCard) -> SkillCard:
    """The card with its words run through the active translation (see ``server/skills/extract.py``)."""
    return _localised(card, current_locale.get())


# The catalogue's cards in each language, with room to spare (a card is hashable: frozen, of tuples and text).
MAX_REMEMBERED_CARDS = 2048


@functools.lru_cache(maxsize=MAX_REMEMBERED_CARDS)
def _localised(card: SkillCard, locale: str) -> SkillCard:
    """Remembered per card and language: the catalogues never change while the server runs, and the Skills page
    translates every card at each request. `locale` is the active one (it is the key, not an argument used)."""
    return replace(
        card,
        title=translate_text(card.title),
        use_when=translate_text(card.use_when),
        steps=tuple(translate_text(step) for step in card.steps),
        caution=translate_text(card.caution) if card.caution else None,
    )


def localised_module(module: Module) -> Module:
    return replace(module, title=translate_text(module.title), summary=translate_text(module.summary))


def _duration(seconds: int) -> str:
    if seconds < 60:
        return ngettext("%(num)s second", "%(num)s seconds", seconds) % {"num": seconds}
    minutes = round(seconds / 60)
    return ngettext("about %(num)s minute", "about %(num)s minutes", minutes) % {"num": minutes}


def timer_text(timer: Timer) -> str:
    """The timer in plain words, for everyone (and the whole guide when the page script can't run)."""
    if timer.kind == "countdown":
        return _("A timer for %(time)s.") % {"time": _duration(timer.total_seconds)}
    assert timer.pattern is not None and timer.cycles is not None
    breathe_in, hold_in, breathe_out, hold_out = timer.pattern
    parts = [_("Breathe in for %(time)s.") % {"time": _duration(breathe_in)}]
    if hold_in:
        parts.append(_("Hold for %(time)s.") % {"time": _duration(hold_in)})
    parts.append(_("Breathe out for %(time)s.") % {"time": _duration(breathe_out)})
    if hold_out:
        parts.append(_("Hold for %(time)s.") % {"time": _duration(hold_out)})
    parts.append(
        ngettext("Do this %(num)s time (%(time)s).", "Do this %(num)s times (%(time)s).", timer.cycles)
        % {"num": timer.cycles, "time": _duration(timer.total_seconds)}
    )
    return " ".join(parts)


def _zone(name: str | None) -> ZoneInfo:
    return zone_for(name or "")


def when_text(moment: datetime, timezone: str | None) -> str:
    """'Mon, Nov 23 at 4:55 PM' in the person's zone and language."""
    local = moment.astimezone(_zone(timezone))
    locale = current_locale.get()
    return _("%(date)s at %(time)s") % {
        "date": format_skeleton("MMMEd", local, locale=locale),
        "time": format_time(local, "short", locale=locale),
    }


def date_text(day: date) -> str:
    return format_skeleton("MMMEd", day, locale=current_locale.get())


def local_day_bounds(local_date: date, timezone: str | None) -> tuple[datetime, datetime]:
    """The UTC instants where that calendar day starts and ends in the given zone (DST-safe)."""
    zone = _zone(timezone)
    start = datetime.combine(local_date, time.min, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(local_date + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return start, end


# --------------------------------------------------------------------------- most helpful


def _helpful_query(user_id: Any) -> Any:
    drop = col(SkillPractice.distress_before) - col(SkillPractice.distress_after)
    return (
        select(col(SkillPractice.card_id).label("card_id"), func.avg(drop).label("avg_drop"), func.count().label("n"))
        .where(
            col(SkillPractice.user_id) == user_id,
            col(SkillPractice.distress_before).is_not(None),
            col(SkillPractice.distress_after).is_not(None),
        )
        .group_by(SkillPractice.card_id)
    )


def _helpful_from(rows: Iterable[tuple[str, Any, Any]], limit: int | None = None) -> list[HelpfulCard]:
    catalogue = default_catalogue()
    stats: list[HelpfulCard] = []
    for card_id, avg, count in rows:
        card = catalogue.by_id(card_id)
        average = float(avg)
        if card is None or average <= 0:
            continue
        stats.append(HelpfulCard(card=card, avg_drop=round(average, 2), count=int(count)))
    stats.sort(key=lambda s: (-s.avg_drop, -s.count, s.card.title.casefold()))
    return stats if limit is None else stats[:limit]


async def helpful_card_stats(db: AsyncSession, user_id: int, limit: int | None = None) -> list[HelpfulCard]:
    """Cards ranked by average distress drop (before − after), over practices with both ratings.

    Only cards whose average drop is above zero count as helpful. Ties: more practices first, then title.
    """
    rows = (await db.execute(_helpful_query(user_id))).all()
    return _helpful_from([(card_id, avg, count) for card_id, avg, count in rows], limit)


async def most_helpful_cards(db: AsyncSession, user_id: int, limit: int = 3) -> list[SkillCard]:
    """Up to ``limit`` cards that helped this person most, filled with urge surfing, TIPP and STOP."""
    if limit <= 0:
        return []
    return most_helpful_from(await helpful_card_stats(db, user_id, limit), limit)


def most_helpful_from(stats: list[HelpfulCard], limit: int) -> list[SkillCard]:
    """`most_helpful_cards` from stats already read (`helpful_reads` in a composed statement)."""
    cards = [stat.card for stat in stats[:limit]]
    catalogue = default_catalogue()
    for card_id in FALLBACK_CARD_IDS:
        if len(cards) >= limit:
            break
        card = catalogue.by_id(card_id)
        if card is not None and card not in cards:
            cards.append(card)
    return cards


# --------------------------------------------------------------------------- favourites and recent


def _favourites_query(user_id: Any) -> Any:
    return (
        select(
            col(SkillFavourite.card_id).label("card_id"),
            col(SkillFavourite.created_at).label("created_at"),
            col(SkillFavourite.id).label("id"),
        )
        .where(col(SkillFavourite.user_id) == user_id)
        .order_by(col(SkillFavourite.created_at), col(SkillFavourite.id))
    )


async def favourite_ids(db: AsyncSession, user_id: int) -> list[str]:
    """Favourite card ids, oldest first (the order they were starred)."""
    rows = await db.execute(_favourites_query(user_id))
    return [card_id for card_id in rows.scalars() if default_catalogue().by_id(card_id) is not None]


async def recent_card_ids(db: AsyncSession, user_id: int, limit: int = 5) -> list[str]:
    """Distinct cards practised most recently first."""
    last = func.max(SkillPractice.started_at)
    rows = await db.execute(
        select(col(SkillPractice.card_id), last)
        .where(col(SkillPractice.user_id) == user_id)
        .group_by(SkillPractice.card_id)
        .order_by(last.desc(), SkillPractice.card_id)
        .limit(limit + 5)  # a few spare in case a card was retired
    )
    ids = [card_id for card_id, _ in rows.all() if default_catalogue().by_id(card_id) is not None]
    return ids[:limit]


# --------------------------------------------------------------------------- today's suggestion


def _rank(user_id: int, card_id: str) -> str:
    return hashlib.sha256(f"{user_id}:{card_id}".encode()).hexdigest()


def _rotation(user_id: int, cards: list[SkillCard], day: int) -> SkillCard:
    order = _shuffled(user_id, tuple(card.id for card in cards))
    return cards[order[day % len(order)]]


@functools.lru_cache(maxsize=1024)
def _shuffled(user_id: int, card_ids: tuple[str, ...]) -> tuple[int, ...]:
    """The person's order of these cards (positions in `card_ids`), the same every day: worked out once per
    process rather than hashing the whole catalogue at every Today."""
    return tuple(sorted(range(len(card_ids)), key=lambda index: _rank(user_id, card_ids[index])))


async def suggested_card(db: AsyncSession, user: User, local_date: date) -> SkillCard:
    """One card for the Today page (`pick_suggestion`)."""
    assert user.id is not None
    return pick_suggestion(
        user.id, await favourite_ids(db, user.id), await helpful_card_stats(db, user.id, 5), local_date
    )


def pick_suggestion(user_id: int, favourites: list[str], helpful: list[HelpfulCard], local_date: date) -> SkillCard:
    """One card for the Today page.

    Every third day it comes from the person's favourites and most helpful cards (in turn); on other days it
    walks through the rest of the catalogue in an order shuffled per person. Preferred days are never next to
    each other and the two pools don't overlap, so the suggestion is never the same two days running.
    """
    catalogue = list(default_catalogue().cards)
    preferred_ids: list[str] = []
    for card_id in [*favourites, *(s.card.id for s in helpful[:5])]:
        if card_id not in preferred_ids:
            preferred_ids.append(card_id)
    preferred = [card for card_id in preferred_ids if (card := default_catalogue().by_id(card_id)) is not None]
    rest = [card for card in catalogue if card.id not in preferred_ids]
    day = local_date.toordinal()
    if preferred and day % _PREFERRED_EVERY == 0:
        return preferred[(day // _PREFERRED_EVERY) % len(preferred)]
    return _rotation(user_id, rest if len(rest) >= 2 else catalogue, day)


# --------------------------------------------------------------------------- counts and summaries


async def practice_counts(db: AsyncSession, user_id: int, start_utc: datetime, end_utc: datetime) -> dict[str, int]:
    """How many times each card was practised in ``[start_utc, end_utc)``, most practised first."""
    rows = (
        await db.execute(
            select(col(SkillPractice.card_id), func.count())
            .where(
                col(SkillPractice.user_id) == user_id,
                col(SkillPractice.started_at) >= start_utc,
                col(SkillPractice.started_at) < end_utc,
            )
            .group_by(SkillPractice.card_id)
        )
    ).all()
    ordered = sorted(rows, key=lambda row: (-int(row[1]), card_title(row[0]).casefold()))
    return {card_id: int(n) for card_id, n in ordered}


async def weekly_practice_summary(
    db: AsyncSession, user_id: int, start_utc: datetime, end_utc: datetime
) -> WeeklySummary:
    """``{"count", "cards": [(card_id, title, n)], "avg_drop"}`` for ``[start_utc, end_utc)``.

    ``avg_drop`` is the mean of (before − after) over practices with both ratings, or None if there are none.
    """
    counts = await practice_counts(db, user_id, start_utc, end_utc)
    drop = col(SkillPractice.distress_before) - col(SkillPractice.distress_after)
    avg = (
        await db.execute(
            select(func.avg(drop)).where(
                col(SkillPractice.user_id) == user_id,
                col(SkillPractice.started_at) >= start_utc,
                col(SkillPractice.started_at) < end_utc,
                col(SkillPractice.distress_before).is_not(None),
                col(SkillPractice.distress_after).is_not(None),
            )
        )
    ).scalar()
    return {
        "count": sum(counts.values()),
        "cards": [(card_id, card_title(card_id), n) for card_id, n in counts.items()],
        "avg_drop": None if avg is None else round(float(avg), 2),
    }


async def practices_on_local_date(
    db: AsyncSession, user: User, local_date: date, timezone: str | None = None
) -> list[SkillPractice]:
    """Practices that started on ``local_date`` in the person's time zone (or ``timezone``), oldest first."""
    start, end = local_day_bounds(local_date, timezone or user.timezone)
    rows = await db.execute(
        select(SkillPractice)
        .where(
            col(SkillPractice.user_id) == user.id,
            col(SkillPractice.started_at) >= start,
            col(SkillPractice.started_at) < end,
        )
        .order_by(col(SkillPractice.started_at), col(SkillPractice.id))
    )
    return list(rows.scalars())


# --------------------------------------------------------------------------- assignments


class UnknownCardError(ValueError):
    """The card id is not in the catalogue."""


async def assign_card(
    db: AsyncSession,
    patient_id: int,
    therapist_id: int | None,
    card_id: str,
    note: str = "",
    due_on: date | None = None,
) -> SkillAssignment:
    """Give a patient a card to practise (the caller checks the therapist may do so)."""
    if default_catalogue().by_id(card_id) is None:
        raise UnknownCardError(card_id)
    assignment = SkillAssignment(
        patient_id=patient_id, therapist_id=therapist_id, card_id=card_id, note=note.strip()[:500], due_on=due_on
    )
    db.add(assignment)
    await db.flush()
    return assignment


async def open_assignments(db: AsyncSession, patient_id: int) -> list[SkillAssignment]:
    """Assignments not yet practised: soonest due first (no date last), then newest."""
    rows = await db.execute(
        select(SkillAssignment)
        .where(col(SkillAssignment.patient_id) == patient_id, col(SkillAssignment.completed_at).is_(None))
        .order_by(
            col(SkillAssignment.due_on).is_(None),
            col(SkillAssignment.due_on),
            col(SkillAssignment.assigned_at).desc(),
        )
    )
    return [a for a in rows.scalars() if default_catalogue().by_id(a.card_id) is not None]


async def recently_completed_assignments(db: AsyncSession, patient_id: int, limit: int = 5) -> list[SkillAssignment]:
    rows = await db.execute(
        select(SkillAssignment)
        .where(col(SkillAssignment.patient_id) == patient_id, col(SkillAssignment.completed_at).is_not(None))
        .order_by(col(SkillAssignment.completed_at).desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def complete_assignments(db: AsyncSession, practice: SkillPractice) -> int:
    """Mark open assignments of this card done when the practice started after they were given."""
    return await rowcount(
        db,
        update(SkillAssignment)
        .where(
            col(SkillAssignment.patient_id) == practice.user_id,
            col(SkillAssignment.card_id) == practice.card_id,
            col(SkillAssignment.completed_at).is_(None),
            col(SkillAssignment.assigned_at) <= practice.started_at,
        )
        .values(completed_at=practice.ended_at or practice.created_at),
    )


# --------------------------------------------------------------------------- panels for other pages


def user_local_date(user: User, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(_zone(user.timezone)).date()


def helpful_reads(user_id: Any) -> dict[str, ColumnElement[Any]]:
    """The helpful-card ranking as a column of a composed statement (Today: the suggestion, strong cravings)."""
    return {"skill_helpful": json_rows(_helpful_query(user_id))}


def helpful_from(values: Mapping[str, Any], limit: int | None = None) -> list[HelpfulCard]:
    return _helpful_from([(r["card_id"], r["avg_drop"], r["n"]) for r in values["skill_helpful"]], limit)


_USER = bindparam("skills_user", type_=Integer())


def today_reads() -> dict[str, ColumnElement[Any]]:
    """The Today panel's reads, as columns of Today's one composed statement (server/today/controllers.py), bound
    with `today_params`."""
    open_cards: Any = select(col(SkillAssignment.card_id).label("card_id")).where(
        col(SkillAssignment.patient_id) == _USER, col(SkillAssignment.completed_at).is_(None)
    )
    return {
        "skill_favourites": json_rows(_favourites_query(_USER)),
        "skill_open": json_rows(open_cards),
        **helpful_reads(_USER),
    }


def today_params(user: User) -> dict[str, Any]:
    return {"skills_user": user.id}


def today_panel(user: User, values: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Context for ``skills/_today_panel.html`` from `today_reads`' values: ``skills_suggestion`` (a SkillCard)
    and ``skills_assigned_count``."""
    assert user.id is not None
    catalogue = default_catalogue()
    starred = sorted(values["skill_favourites"], key=lambda r: (as_utc(r["created_at"]), r["id"]))
    favourites = [r["card_id"] for r in starred if catalogue.by_id(r["card_id"]) is not None]
    suggestion = pick_suggestion(user.id, favourites, helpful_from(values, 5), user_local_date(user, now))
    return {
        "skills_suggestion": localised(suggestion),
        "skills_assigned_count": sum(1 for r in values["skill_open"] if catalogue.by_id(r["card_id"]) is not None),
    }


@functools.cache
def _today_statement() -> Select[Any]:
    return compose(today_reads())


async def today_context(db: AsyncSession, user: User) -> dict[str, Any]:
    """The Today panel's context, read on its own (one statement)."""
    now = utcnow()
    return today_panel(user, await read_composed(db, _today_statement(), today_params(user)), now)


RECENT_SHOWN = 5


@functools.cache
def _library_statement() -> Select[Any]:
    """The library's reads of the person's own cards, in one statement (bound with `skills_user`)."""
    last = func.max(SkillPractice.started_at)
    recent: Any = (
        select(col(SkillPractice.card_id).label("card_id"), last.label("last"))
        .where(col(SkillPractice.user_id) == _USER)
        .group_by(SkillPractice.card_id)
        .order_by(last.desc(), SkillPractice.card_id)
        .limit(RECENT_SHOWN + 5)  # a few spare in case a card was retired
    )
    open_rows = select(*table_of(SkillAssignment).c).where(
        col(SkillAssignment.patient_id) == _USER, col(SkillAssignment.completed_at).is_(None)
    )
    return compose(
        {
            "skill_favourites": json_rows(_favourites_query(_USER)),
            "skill_recent": json_rows(recent),
            "skill_open_rows": json_rows(open_rows),
            **helpful_reads(_USER),
        }
    )


def _open_from(values: Mapping[str, Any]) -> list[SkillAssignment]:
    """`open_assignments` from the library's values: soonest due first (no date last), then newest."""
    rows = [a for a in from_json(SkillAssignment, values["skill_open_rows"]) if default_catalogue().by_id(a.card_id)]
    return sorted(rows, key=lambda a: (a.due_on is None, a.due_on or date.min, -a.assigned_at.timestamp()))


async def library_context(
    db: AsyncSession, user_id: int, *, query: str = "", module: Module | None = None
) -> dict[str, Any]:
    """What the skills library shows (``skills/browse.html``): the person's own cards first, then the modules.

    Without a module or a search: assigned, favourites, "helped you most" (their own before/after ratings) and
    recently used, then each module folded to one line. With a module: that module's cards, favourites and
    the ones that helped most first. With a search: the matches (within the module when one is chosen).
    """
    catalogue = default_catalogue()
    by_id = {card.id: localised(card) for card in catalogue.cards}
    # One statement for the person's own cards (`_library_statement`).
    values = await read_composed(db, _library_statement(), {"skills_user": user_id})
    starred = sorted(values["skill_favourites"], key=lambda r: (as_utc(r["created_at"]), r["id"]))
    favourites = [r["card_id"] for r in starred if catalogue.by_id(r["card_id"]) is not None]
    helped = [replace(stat, card=by_id[stat.card.id]) for stat in helpful_from(values)]
    drop_of = {stat.card.id: stat.avg_drop for stat in helped}

    def personal_first(cards: list[SkillCard]) -> list[SkillCard]:
        order = {card_id: i for i, card_id in enumerate(favourites)}
        return sorted(
            cards,
            key=lambda c: (c.id not in order, order.get(c.id, 0), -drop_of.get(c.id, 0.0)),
        )

    modules = [
        (localised_module(m), personal_first([by_id[card.id] for card in catalogue.cards_in(m.id)]))
        for m in catalogue.modules()
    ]
    results = None
    if query:
        found = catalogue.search(query)
        results = [by_id[card.id] for card in found if module is None or card.module == module.id]
    assigned = _open_from(values) if not query and module is None else []
    last_used = sorted(values["skill_recent"], key=lambda r: (-as_utc(r["last"]).timestamp(), r["card_id"]))
    recent = [r["card_id"] for r in last_used if catalogue.by_id(r["card_id"]) is not None][:RECENT_SHOWN]
    return {
        "query": query,
        "module": localised_module(module) if module else None,
        "modules": modules,
        "module_cards": next((cards for m, cards in modules if module and m.id == module.id), []),
        "results": results,
        "favourites": [by_id[card_id] for card_id in favourites],
        "favourite_ids": set(favourites),
        "helped": helped[:3],
        "drop_of": drop_of,
        "recent": [by_id[card_id] for card_id in recent],
        "assigned": [(a, by_id[a.card_id], date_text(a.due_on) if a.due_on else "") for a in assigned],
    }


async def progress_context(db: AsyncSession, user: User) -> dict[str, Any]:
    """Context for ``skills/_progress_panel.html``: ``skills_progress`` = {helpful, total, last_7_days}."""
    assert user.id is not None
    now = utcnow()
    total = (
        await db.execute(select(func.count()).select_from(SkillPractice).where(col(SkillPractice.user_id) == user.id))
    ).scalar() or 0
    week = await practice_counts(db, user.id, now - timedelta(days=7), now + timedelta(minutes=1))
    return {
        "skills_progress": {
            "helpful": [replace(stat, card=localised(stat.card)) for stat in await helpful_card_stats(db, user.id, 3)],
            "total": int(total),
            "last_7_days": sum(week.values()),
        }
    }


def offline_urls() -> list[str]:
    """Pages and assets the More page's offline switch stores: the library, every card, and the card script."""
    return [
        "/skills",
        *(f"/skills/{card.id}" for card in default_catalogue().cards),
        static_url("js/skills.js"),
    ]


async def export_section(db: AsyncSession, patient: User) -> dict[str, Any]:
    """Skill practice for the patient's own export (JSON and zip): every practice as stored, with the card's title."""
    rows = await db.scalars(
        select(SkillPractice)
        .where(col(SkillPractice.user_id) == patient.id)
        .order_by(col(SkillPractice.started_at), col(SkillPractice.id))
    )
    return {
        "skill_practice": [
            {
                "id": p.id,
                "card_id": p.card_id,
                "card": card_title(p.card_id),
                "started_at": p.started_at.isoformat(),
                "ended_at": p.ended_at.isoformat() if p.ended_at else None,
                "distress_before": p.distress_before,
                "distress_after": p.distress_after,
                "helped": p.helped,
                "note": p.note,
            }
            for p in rows
        ]
    }
