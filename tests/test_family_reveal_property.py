"""Automatic sober-day milestones never reveal a reset (issue 17, item 2), proved over random sequences of
check-in days, uses and restarts, stop-counting, sobriety-date edits, good-news posts (English and Spanish, with
and without a count), pauses and removals. The model delivers through the real rule (`server.family.reveal`)
and the real milestone calendar (`server.family.rules`); what each family member could know is computed
independently here. A DB-backed run through the fan-out is in tests/test_milestones.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.family import reveal, rules

DAY0 = date(2020, 1, 1)  # a model calendar, not "now": nothing here depends on the real date
# (phrase, days it implies at least): the test's own reading of a post, independent of the parser.
POSTS: tuple[tuple[str, int], ...] = (
    ("One month sober today!", 30),
    ("{n} days clean and feeling it", -1),
    ("Two weeks without a drink", 14),
    ("A whole year!", 365),
    ("¡Llevo {n} días sin consumir!", -1),
    ("Un mes sobrio hoy", 30),
    ("6 months today", 180),
    ("Feeling good today, thank you all", 0),
    ("Seis meses", 180),
    ("I went to every group this week", 0),  # "this week" names no count: known stays as it was
)

Event = tuple[str, int]


@dataclass
class Member:
    listens_sober: bool
    listens_good: bool
    paused: bool = False
    removed: bool = False
    received: list[tuple[str, str, str]] = field(default_factory=list)
    known: int = 0  # the test's own record of the longest length this person could know
    sober_seen: list[int] = field(default_factory=list)
    after_removal: int = 0


events = st.lists(
    st.tuples(
        st.sampled_from(["checkin", "checkin", "checkin", "use", "stop", "edit", "post", "pause", "remove"]),
        st.integers(min_value=0, max_value=400),
    ),
    min_size=1,
    max_size=40,
)
members = st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=3)


def deliver(member: Member, kind: str, value: str, message: str, implied: int) -> None:
    if member.removed:
        member.after_removal += 1  # must never happen: the caller skips removed members
        return
    if kind == reveal.SOBER_KIND:
        assert int(value) > member.known, f"{value} days after they could know {member.known}: a reset shows"
        member.sober_seen.append(int(value))
        member.known = max(member.known, int(value))
    else:
        member.known = max(member.known, implied)
    member.received.append((kind, value, message))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=events, people=members)
def test_a_family_member_never_sees_a_lower_count_or_anything_after_removal(
    events: list[Event], people: list[tuple[bool, bool]]
) -> None:
    family = [Member(listens_sober=s, listens_good=g) for s, g in people]
    today = DAY0 + timedelta(days=500)
    started: date | None = today - timedelta(days=3)
    for action, n in events:
        if action == "checkin":
            last = today + timedelta(days=n % 60 + 1)
            if started is not None:
                for _reached, days in rules.sober_milestones_between(started, today + timedelta(days=1), last):
                    for m in family:
                        if m.removed or m.paused or not m.listens_sober:
                            continue
                        if reveal.may_announce(reveal.SOBER_KIND, str(days), reveal.ceiling(m.received)):
                            deliver(m, reveal.SOBER_KIND, str(days), "", days)
            today = last
        elif action == "use":
            started = today  # a confirmed restart
        elif action == "stop":
            started = None  # "stop counting"
        elif action == "edit":
            started = today - timedelta(days=n)  # a new sobriety date, earlier or later
        elif action == "post":
            text, implied = POSTS[n % len(POSTS)]
            count = (today - started).days if started is not None else n
            if implied == -1:
                text, implied = text.format(n=count), count
            for m in family:
                if not m.removed and not m.paused and m.listens_good:
                    deliver(m, reveal.GOOD_NEWS_KIND, "", text, implied)
        elif action == "pause":
            m = family[n % len(family)]
            m.paused = not m.paused
        elif action == "remove":
            family[n % len(family)].removed = True
    for m in family:
        assert m.after_removal == 0
        assert m.sober_seen == sorted(set(m.sober_seen)), "sober counts a person saw only ever go up"
        assert reveal.ceiling(m.received) >= m.known, "the rule never under-reads what someone could know"


@given(st.integers(min_value=1, max_value=5000), st.sampled_from(["days", "días", "day", "día"]))
@settings(max_examples=200, deadline=None)
def test_a_stated_count_is_read_at_least_as_long_as_it_says(n: int, unit: str) -> None:
    assert reveal.days_in_text(f"Hoy: {n} {unit}!") >= n


def test_words_and_units() -> None:
    assert reveal.days_in_text("One month sober today!") >= 30
    assert reveal.days_in_text("un año sin beber") >= 365
    assert reveal.days_in_text("Two weeks") == 14
    assert reveal.days_in_text("Feeling good") == 0
    assert not reveal.may_announce("sober_days", "1", 31)
    assert not reveal.may_announce("sober_days", "30", 30)
    assert reveal.may_announce("sober_days", "60", 31)
    assert reveal.may_announce("phase_completed", "Phase 1", 999)
