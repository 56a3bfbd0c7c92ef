"""Crisis help: which numbers to show, the rule for a worrying check-in, and the patient's safety plan.

Public API:

* :func:`needs_crisis_help` - the rule: a self-harm urge of 4-5 or a mood of 0-1 means "show help now".
* :func:`crisis_context` - what `crisis/_help_now.html` needs (the clinic's lines); merge it into the context.
* :class:`CrisisLine`, :func:`default_lines`, :func:`lines_for` - the numbers to show.
* :func:`get_plan`, :func:`save_plan`, :func:`split_items`, :func:`care_contacts` - the safety plan.
* :func:`offline_urls` - pages the More page's offline switch should store (the plan).
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from sqlalchemy import Integer, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import CareTeam, Clinic, User
from server.crisis.models import PLAN_SECTIONS, SafetyPlan
from server.db import compose, insert_or_existing, read_composed, read_first, utcnow
from server.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES, current_locale
from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l
from server.web.logging import get_logger

log = get_logger("crisis")

DEFAULT_LINES_PATH = Path(__file__).with_name("default_lines.toml")
LineKind = Literal["call", "text"]
LINE_KINDS: tuple[str, ...] = ("call", "text")

# Limits shared by the forms and by the reader of stored settings.
MAX_SECTION_CHARS = 2000
MAX_CLINIC_LINES = 10
MAX_LABEL = 80
MAX_NUMBER = 40
MAX_NOTE = 200
MAX_BODY = 40

# Digits, spaces, + - ( ) only, with at least one digit: what people type for a phone number anywhere.
_NUMBER_RE = re.compile(r"^\+?[0-9 ()\-]*[0-9][0-9 ()\-]*$")
# A phone number written inside a plan item ("Mum 555 123 4567"): 7+ digits, separators allowed.
_PHONE_IN_TEXT_RE = re.compile(r"\+?\d[\d ().\-]{5,}\d")
_BULLET_RE = re.compile(r"^(?:[-*•·]+|\d+[.)])\s+")

# The rule for a worrying check-in (self-harm urge 0-5 where 5 is strongest; mood scale starts at 0, the lowest).
URGE_THRESHOLD = 4
MOOD_THRESHOLD = 1


def needs_crisis_help(mood: int | None, self_harm_urge: int | None) -> bool:
    """True when a check-in should show crisis help straight after saving: urge 4-5 or mood 0-1.

    Values past the ends of the scales count as the nearest end (an urge of 6 is still worrying).
    """
    if self_harm_urge is not None and self_harm_urge >= URGE_THRESHOLD:
        return True
    return mood is not None and mood <= MOOD_THRESHOLD


# --------------------------------------------------------------------------- crisis lines


def valid_number(number: str) -> bool:
    return bool(_NUMBER_RE.match(number.strip())) and len(number.strip()) <= MAX_NUMBER


def dial_string(number: str) -> str:
    """What goes after tel:/sms: - the digits, keeping a leading + for international numbers."""
    number = number.strip()
    return ("+" if number.startswith("+") else "") + re.sub(r"\D", "", number)


@dataclass(frozen=True)
class CrisisLine:
    label: str
    number: str
    kind: LineKind
    note: str = ""
    body: str = ""  # a word pre-filled in the text message (Crisis Text Line: HOME)

    @property
    def href(self) -> str:
        target = dial_string(self.number)
        if self.kind == "call":
            return f"tel:{target}"
        if self.body:
            # `?&body=` is the form both phone families read: Android (like RFC 5724) parses the query after `?`
            # and skips the empty first parameter, iOS 8-10 only understood `&body=`, and newer iOS accepts both.
            return f"sms:{target}?&body={quote(self.body)}"
        return f"sms:{target}"

    @property
    def action(self) -> str:
        """The button's words; the verb says call or text, so meaning never rests on an icon or colour."""
        if self.kind == "call":
            return _("Call %(number)s") % {"number": self.number}
        if self.body:
            return _("Text %(word)s to %(number)s") % {"word": self.body, "number": self.number}
        return _("Text %(number)s") % {"number": self.number}

    def to_setting(self) -> dict[str, str]:
        return {"label": self.label, "number": self.number, "kind": self.kind, "note": self.note}


class DefaultLinesError(ValueError):
    """default_lines.toml is missing or breaks a rule; the message names the entry and the field."""


@dataclass(frozen=True)
class _DefaultLine:
    kind: LineKind
    number: str
    body: dict[str, str]  # language -> word; a language without one texts the number with an empty message
    label: dict[str, str]
    note: dict[str, str]

    def localised(self, locale: str) -> CrisisLine:
        return CrisisLine(
            label=self.label.get(locale) or self.label[DEFAULT_LOCALE],
            number=self.number,
            kind=self.kind,
            note=self.note.get(locale) or self.note.get(DEFAULT_LOCALE, ""),
            body=self.body.get(locale, ""),
        )


def _words(raw: object, where: str, field: str, *, required: bool) -> dict[str, str]:
    if raw is None and not required:
        return {}
    if isinstance(raw, str):
        raw = {DEFAULT_LOCALE: raw}
    if not isinstance(raw, dict) or not all(isinstance(v, str) and v.strip() for v in raw.values()):
        raise DefaultLinesError(f"{where}: {field} must be a table of language = words")
    if DEFAULT_LOCALE not in raw:
        raise DefaultLinesError(f"{where}: {field} needs the '{DEFAULT_LOCALE}' words")
    return {str(k): v.strip() for k, v in raw.items()}


def _bodies(raw: object, where: str) -> dict[str, str]:
    """A text line's pre-filled word: one for every language, or per language (988 answers AYUDA in Spanish)."""
    table = {lang: raw for lang in SUPPORTED_LOCALES} if isinstance(raw, str) else raw
    if not isinstance(table, dict) or not all(isinstance(v, str) and len(v) <= MAX_BODY for v in table.values()):
        raise DefaultLinesError(f"{where}: body must be a short word, or a table of language = short word")
    return {str(lang): word.strip() for lang, word in table.items() if word.strip()}


def load_default_lines(path: Path = DEFAULT_LINES_PATH) -> tuple[_DefaultLine, ...]:
    """Read and check the default lines file (raises DefaultLinesError naming the file and entry)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DefaultLinesError(f"{path.name}: cannot read: {exc}") from exc
    entries = data.get("lines")
    if not isinstance(entries, list) or not entries:
        raise DefaultLinesError(f"{path.name}: needs at least one [[lines]] entry")
    lines = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path.name}: line #{number}"
        if not isinstance(entry, dict):
            raise DefaultLinesError(f"{where}: must be a table")
        unknown = set(entry) - {"kind", "number", "body", "label", "note"}
        if unknown:
            raise DefaultLinesError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        kind = entry.get("kind")
        if kind not in LINE_KINDS:
            raise DefaultLinesError(f"{where}: kind must be 'call' or 'text', not {kind!r}")
        phone = entry.get("number")
        if not isinstance(phone, str) or not valid_number(phone):
            raise DefaultLinesError(f"{where}: number must be digits, spaces and + - ( ), not {phone!r}")
        body = _bodies(entry.get("body", ""), where)
        if body and kind != "text":
            raise DefaultLinesError(f"{where}: body must be a short word, and only on a text line")
        lines.append(
            _DefaultLine(
                kind=kind,
                number=phone.strip(),
                body=body,
                label=_words(entry.get("label"), where, "label", required=True),
                note=_words(entry.get("note"), where, "note", required=False),
            )
        )
    return tuple(lines)


@functools.lru_cache(maxsize=1)
def _default_table() -> tuple[_DefaultLine, ...]:
    return load_default_lines()


def default_lines(locale: str | None = None) -> list[CrisisLine]:
    """The US lines from default_lines.toml, in the person's language (English when a language is missing)."""
    chosen = locale or current_locale.get()
    return [line.localised(chosen) for line in _default_table()]


def _line_from_setting(item: object) -> CrisisLine | None:
    """One stored clinic line, or None if it is unusable (stored settings are never trusted to be tidy)."""
    if not isinstance(item, dict):
        return None
    label, number, kind, note = (item.get(k) for k in ("label", "number", "kind", "note"))
    if not isinstance(label, str) or not label.strip() or not isinstance(number, str) or not valid_number(number):
        return None
    if kind not in LINE_KINDS:
        return None
    return CrisisLine(
        label=label.strip()[:MAX_LABEL],
        number=number.strip(),
        kind=kind,
        note=note.strip()[:MAX_NOTE] if isinstance(note, str) else "",
    )


def stored_clinic_lines(clinic: Clinic | None) -> list[CrisisLine]:
    """The clinic's own lines exactly as set (possibly none)."""
    return _stored_lines(clinic.settings if clinic is not None else None)


def _stored_lines(settings: dict[str, Any] | None) -> list[CrisisLine]:
    raw = (settings or {}).get("crisis_lines")
    if not isinstance(raw, list):
        return []
    lines = [line for line in map(_line_from_setting, raw) if line is not None]
    if len(lines) != len(raw):
        log.warning("skipped unusable clinic crisis lines", extra={"count": len(raw) - len(lines)})
    return lines


_CLINIC = bindparam("crisis_clinic", type_=Integer())


@functools.cache
def _settings_statements() -> tuple[Select[Any], Select[Any]]:
    """Built once: a clinic's settings by id (composed, so a page view checks its session in it), and this server's
    clinic's (the first one, made at setup)."""
    settings = select(col(Clinic.settings))
    by_id = compose({"settings": settings.where(col(Clinic.id) == _CLINIC).scalar_subquery()})
    return by_id, settings.order_by(col(Clinic.id)).limit(1)


async def lines_for(db: AsyncSession, user: User | None) -> list[CrisisLine]:
    """The lines to show someone: their clinic's own (for someone signed out, this server's clinic's), which
    replace the US defaults when it set any. Only the clinic's settings are read, as one Core column (the crisis
    page opens in hard moments; loading the whole clinic through the ORM cost a fifth of it), outside the request's
    session unless it has written, like every page's reads."""
    by_id, first = _settings_statements()
    if user is not None:
        row: dict[str, Any] | None = await read_composed(db, by_id, {"crisis_clinic": user.clinic_id})
    else:
        row = await read_first(db, first, {})
    return _stored_lines(row["settings"] if row else None) or default_lines()


async def crisis_context(db: AsyncSession, user: User | None) -> dict[str, Any]:
    """Merge into a page's context before including `crisis/_help_now.html`, so it shows the clinic's numbers.

    Without it the partial still renders, with the US default lines.
    """
    return {"crisis_lines": await lines_for(db, user)}


def offline_urls() -> list[str]:
    """What the More page's offline switch should keep: the personal plan (/crisis itself is always kept)."""
    return ["/crisis/plan"]


def template_globals() -> dict[str, Any]:
    """Jinja globals for the crisis templates. Reads default_lines.toml now, so a broken file stops start-up."""
    _default_table()
    return {"crisis_default_lines": default_lines}


# --------------------------------------------------------------------------- safety plan

SECTION_TEXT: dict[str, tuple[Any, Any]] = {
    "warning_signs": (
        _l("Step 1: My warning signs"),
        _l("Thoughts, feelings, places or situations that tell me a hard time may be starting."),
    ),
    "coping_on_my_own": (
        _l("Step 2: Things I can do on my own"),
        _l("Things that help me get through a hard moment without contacting anyone, like a walk, music or a skill."),
    ),
    "distractions": (
        _l("Step 3: People and places that distract me"),
        _l("People I can be around and places I can go to take my mind off things."),
    ),
    "people_to_ask": (
        _l("Step 4: People I can ask for help"),
        _l("Family or friends I can tell that I'm struggling. Add their phone numbers."),
    ),
    "professionals": (
        _l("Step 5: Professionals and agencies I can contact"),
        _l("My sponsor, doctor or others I can call. My therapist's and clinic's numbers are added for me."),
    ),
    "safe_environment": (
        _l("Step 6: Making my surroundings safe"),
        _l("How I keep things I could hurt myself with out of reach, like medicines, alcohol, drugs or weapons."),
    ),
    "reasons_for_recovery": (
        _l("My reasons for recovery"),
        _l("What matters most to me and is worth getting through this for."),
    ),
}
assert set(SECTION_TEXT) == set(PLAN_SECTIONS)


def split_items(text: str) -> list[str]:
    """One item per line; blank lines and list bullets people paste in are dropped."""
    items = []
    for line in text.splitlines():
        item = _BULLET_RE.sub("", line.strip()).strip()
        if item:
            items.append(item)
    return items


def plan_values(plan: SafetyPlan | None) -> dict[str, str]:
    """The edit form's values: each section as lines of text."""
    return {name: "\n".join(plan.section(name)) if plan else "" for name in PLAN_SECTIONS}


def phone_parts(text: str) -> list[tuple[str, str | None]]:
    """Split a plan item into text and phone numbers, so a number in "Sis 555 123 4567" becomes a call link.

    Returns (piece, tel-href or None) pairs; escaping is left to the template.
    """
    parts: list[tuple[str, str | None]] = []
    position = 0
    for match in _PHONE_IN_TEXT_RE.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if len(digits) < 7:
            continue
        if match.start() > position:
            parts.append((text[position : match.start()], None))
        parts.append((match.group(), "tel:" + dial_string(match.group())))
        position = match.end()
    if position < len(text):
        parts.append((text[position:], None))
    return parts


async def get_plan(db: AsyncSession, user_id: int) -> SafetyPlan | None:
    return await db.scalar(select(SafetyPlan).where(col(SafetyPlan.user_id) == user_id))


async def save_plan(db: AsyncSession, user_id: int, sections: dict[str, list[str]]) -> SafetyPlan:
    """Create or replace the person's plan; two first saves at once still leave exactly one row."""
    values: dict[str, Any] = {name: list(sections.get(name, [])) for name in PLAN_SECTIONS}
    plan = await get_plan(db, user_id)
    if plan is None:
        # Two first saves at once: the one that loses the insert updates the winner's row below.
        plan, created = await insert_or_existing(
            db, SafetyPlan(user_id=user_id, **values), lambda: get_plan(db, user_id)
        )
        if created:
            return plan
    for name, items in values.items():
        setattr(plan, name, items)
    plan.updated_at = utcnow()
    db.add(plan)
    await db.flush()
    return plan


@dataclass(frozen=True)
class CareContact:
    name: str
    phone: str
    role: str  # "therapist" or "clinic"

    @property
    def href(self) -> str:
        return "tel:" + dial_string(self.phone) if self.phone and valid_number(self.phone) else ""


async def care_contacts(db: AsyncSession, user: User) -> list[CareContact]:
    """The patient's therapists and clinic with their phone numbers, for step 5 of the plan."""
    therapists = await db.scalars(
        select(User)
        .join(CareTeam, col(CareTeam.therapist_id) == col(User.id))
        .where(col(CareTeam.patient_id) == user.id)
        .order_by(User.display_name)
    )
    contacts = [CareContact(name=t.display_name, phone=t.phone, role="therapist") for t in therapists]
    clinic = await db.get(Clinic, user.clinic_id)
    if clinic is not None:
        contacts.append(CareContact(name=clinic.name, phone=clinic.phone, role="clinic"))
    return contacts


async def export_section(db: AsyncSession, patient: User) -> dict[str, Any]:
    """The safety plan for the patient's own export: each section's items as written (None without a plan)."""
    assert patient.id is not None
    plan = await get_plan(db, patient.id)
    return {"safety_plan": None if plan is None else {name: plan.section(name) for name in PLAN_SECTIONS}}
