"""Automatic sober-day milestones must never reveal a reset. Pure functions: no database, nothing clinical.

A family member "could know" a sobriety length once they were told one: an automatic milestone ("Sam reached
30 days sober") or a good-news post that states or implies a count ("One month sober today!"). After a restart,
"stop counting" or a new sobriety date, the next automatic milestones would show a lower count, and anyone can
read a reset from that. So an automatic sober-days milestone reaches a family member only when its count is
higher than everything that person could already know (their *ceiling*); until the new run passes it, automatic
sober-days milestones stay quiet for them. The patient's own good-news posts are theirs to send and are never
held back. A member who never heard a count (paused, or not listening for sober days) has a ceiling of 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SOBER_KIND = "sober_days"
GOOD_NEWS_KIND = "good_news"

# Implied lengths round UP, so a ceiling is never below what someone could read into a post.
_UNIT_DAYS = {
    "day": 1, "days": 1, "día": 1, "días": 1, "dia": 1, "dias": 1,
    "week": 7, "weeks": 7, "semana": 7, "semanas": 7,
    "month": 31, "months": 31, "mes": 31, "meses": 31,
    "year": 366, "years": 366, "año": 366, "años": 366, "ano": 366, "anos": 366,
}  # fmt: skip
_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "eighteen": 18, "twenty": 20, "thirty": 30, "sixty": 60,
    "ninety": 90, "hundred": 100,
    "un": 1, "una": 1, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
    "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "dieciocho": 18, "veinte": 20, "treinta": 30,
    "sesenta": 60, "noventa": 90, "cien": 100,
    "half": 0,
}  # fmt: skip
_COUNT = re.compile(r"(\d{1,5}|[a-záéíóúñ]+)[\s-]+(?:full\s+|whole\s+|entero?s?\s+)?([a-záéíóúñ]+)", re.IGNORECASE)


def days_in_text(text: str) -> int:
    """The longest length of time a post states or implies, in days (rounded up), or 0 when it names none."""
    best = 0
    for number, unit in _COUNT.findall(text.casefold()):
        per = _UNIT_DAYS.get(unit)
        if per is None:
            continue
        count = int(number) if number.isdigit() else _WORDS.get(number)
        if count is None:
            continue
        best = max(best, max(count, 1) * per)
    return best


def told(kind: str, value: str, message: str) -> int:
    """The sobriety length (days) one thing a family member received told them."""
    if kind == SOBER_KIND and value.isdigit():
        return int(value)
    if kind == GOOD_NEWS_KIND:
        return days_in_text(message)
    return 0


def ceiling(received: Iterable[tuple[str, str, str]]) -> int:
    """The highest sobriety length a family member could know from everything they received (kind, value,
    message)."""
    return max((told(k, v, m) for k, v, m in received), default=0)


def may_announce(kind: str, value: str, known: int) -> bool:
    """Whether an automatic milestone may reach someone whose ceiling is `known`: sober-days counts only when
    higher than anything they could know (so never a visible reset); everything else always."""
    if kind != SOBER_KIND:
        return True
    return value.isdigit() and int(value) > known
