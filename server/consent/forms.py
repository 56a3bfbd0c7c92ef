"""The consent screen: reading and checking the form, and the context its partial needs.

Used by `server.sharing` (therapists) and `server.family` (family members) alike:

    spec = ConsentFormSpec(action="/…", terms=ConsentTerms(...), today=..., program_start=..., program_end=...)
    context = form_context(spec, values=initial_values(spec, previous), errors={})
    # template: {% include "consent/_consent_form.html" %}  (reads `consent` from the context)

    result = validate_consent_form(raw_values, spec, patient)
    if result.errors: re-render with status 422 and form_context(spec, raw_values, result.errors)
    else: await sign_consent(db, patient=..., recipient=..., **result.sign_kwargs())
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from server.accounts.models import User
from server.consent.models import Consent
from server.consent.service import MAX_DAYS, latest_end_date, local_midnight_after
from server.consent.wording import ConsentTerms, consent_sections, long_date, plain_text
from server.i18n import gettext as _
from server.web.edge import CONTROL

FIELDS = ("categories", "until", "ends_on", "data_from", "signature")


MAX_SIGNATURE = 120  # the column's length


@dataclass(frozen=True)
class ConsentFormSpec:
    action: str
    terms: ConsentTerms
    today: date  # the patient's local date
    title: str = ""
    submit_label: str = ""
    program_start: date | None = None  # offers "from the start of my program" when set
    program_end: date | None = None  # offers "until the end of my program" when set
    hidden: dict[str, str] = field(default_factory=dict)  # extra hidden inputs (e.g. the recipient's id)
    hx_target: str = ""  # an htmx target for the form, if any

    @property
    def heading(self) -> str:
        return self.title or _("Consent to share information")


@dataclass
class ConsentChoice:
    categories: list[str]
    ends_on: date
    ends_at: datetime
    until_program_end: bool
    data_from: date
    signature: str
    wording: str

    def sign_kwargs(self) -> dict[str, Any]:
        return {
            "categories": self.categories,
            "ends_at": self.ends_at,
            "until_program_end": self.until_program_end,
            "data_from": self.data_from,
            "signature": self.signature,
            "wording": self.wording,
        }


@dataclass
class ConsentValidation:
    choice: ConsentChoice | None
    errors: dict[str, str]
    values: dict[str, Any]


def initial_values(spec: ConsentFormSpec, previous: Consent | None = None) -> dict[str, Any]:
    """Defaults for a first consent, or the previous version's choices when changing what is shared."""
    if previous is not None:
        allowed = {o.id for o in spec.terms.options}
        values: dict[str, Any] = {"categories": [c for c in previous.categories if c in allowed]}
        if previous.until_program_end and spec.program_end is not None:
            values["until"] = "program"
        else:
            values["until"] = "date"
            values["ends_on"] = ""
        values["data_from"] = (
            "program" if spec.program_start is not None and previous.data_from <= spec.program_start else "today"
        )
        return values
    return {
        "categories": [o.id for o in spec.terms.options if o.default],
        "until": "program" if spec.program_end is not None else "date",
        "ends_on": "",
        "data_from": "program" if spec.program_start is not None else "today",
    }


def ends_label_for(ends_on: date, until_program_end: bool) -> str:
    if until_program_end:
        return _("at the end of my program, on %(day)s") % {"day": long_date(ends_on)}
    return _("at the end of %(day)s") % {"day": long_date(ends_on)}


def _end_date(raw: dict[str, Any], spec: ConsentFormSpec, errors: dict[str, str]) -> tuple[date | None, bool]:
    """The last day of sharing (and whether it is the program's end), adding any error to `errors`."""
    latest = latest_end_date(spec.today)
    until = str(raw.get("until") or "date")
    if until == "program":
        if spec.program_end is None or spec.program_end < spec.today:
            errors["until"] = _("We couldn't find a program you're in. Please choose an end date instead.")
            return None, False
        return min(spec.program_end, latest), True
    if until != "date":
        errors["until"] = _("Please pick one of the choices.")
        return None, False
    text = str(raw.get("ends_on") or "").strip()
    if not text:
        errors["ends_on"] = _("Please choose the last day of sharing.")
        return None, False
    try:
        ends_on = date.fromisoformat(text)
    except ValueError:
        errors["ends_on"] = _("Please enter a date we can read, like 2027-03-14.")
        return None, False
    if ends_on < spec.today:
        errors["ends_on"] = _("That day has already passed. Please choose today or a later day.")
    elif ends_on > latest:
        errors["ends_on"] = _("A consent can last at most one year: please choose %(day)s or earlier.") % {
            "day": long_date(latest)
        }
    return ends_on, False


def _signature(raw: dict[str, Any]) -> tuple[str, str]:
    """The signature is the full name the person types: stored on the consent as typed (spaces squeezed), and
    never compared with the account's display name, which may be a nickname or carry an emoji. Returns it and
    what is wrong with it ('' if nothing)."""
    typed = str(raw.get("signature") or "")
    signature = " ".join(CONTROL.sub("", typed).split())
    if CONTROL.search(typed):
        return signature, _("Please remove the unusual invisible characters from this.")
    if not any(ch.isalpha() for ch in signature):
        return signature, _("Please type your full name to sign.")
    if len(signature) > MAX_SIGNATURE:
        return signature, _("Please keep this to %(n)s characters or fewer.") % {"n": MAX_SIGNATURE}
    return signature, ""


def validate_consent_form(raw: dict[str, Any], spec: ConsentFormSpec, patient: User) -> ConsentValidation:
    """Check a submitted consent; errors are keyed by field, and the typed values are kept for the re-render."""
    values = {k: raw.get(k, "") for k in FIELDS}
    picked = raw.get("categories") or []
    if isinstance(picked, str):
        picked = [picked]
    allowed = [o.id for o in spec.terms.options]
    categories = [c for c in allowed if c in set(picked)]
    values["categories"] = categories
    errors: dict[str, str] = {}
    if set(picked) - set(allowed):
        errors["categories"] = _("One of the choices isn't available. Please tick from the list.")
    elif not categories:
        errors["categories"] = _("Please tick at least one thing to share.")

    ends_on, until_program_end = _end_date(raw, spec, errors)
    data_from = spec.today
    if str(raw.get("data_from") or "today") == "program" and spec.program_start is not None:
        data_from = min(spec.program_start, spec.today)

    signature, problem = _signature(raw)
    values["signature"] = signature
    if problem:
        errors["signature"] = problem
    if errors or ends_on is None:
        return ConsentValidation(choice=None, errors=errors, values=values)
    terms = spec.terms.with_choices(
        chosen=frozenset(categories),
        data_from=data_from,
        ends_label=ends_label_for(ends_on, until_program_end),
        signature=signature,
        signed_on=spec.today,
    )
    wording = plain_text(spec.heading, consent_sections(terms))
    ends_at = local_midnight_after(patient, ends_on)
    return ConsentValidation(
        choice=ConsentChoice(
            categories=categories,
            ends_on=ends_on,
            ends_at=ends_at,
            until_program_end=until_program_end,
            data_from=data_from,
            signature=signature,
            wording=wording,
        ),
        errors={},
        values=values,
    )


def form_context(spec: ConsentFormSpec, values: dict[str, Any], errors: dict[str, str] | None = None) -> dict[str, Any]:
    """What `consent/_consent_form.html` reads, as the `consent` variable."""
    chosen = values.get("categories") or []
    if isinstance(chosen, str):
        chosen = [chosen]
    terms = spec.terms.with_choices(chosen=frozenset(chosen), data_from=None)
    latest = latest_end_date(spec.today)
    until_choices: list[tuple[str, str]] = []
    if spec.program_end is not None and spec.program_end >= spec.today:
        end = min(spec.program_end, latest)
        label = _("At the end of my program (%(day)s)") % {"day": long_date(end)}
        until_choices.append(("program", label))
    until_choices.append(("date", _("On a date I choose")))
    data_from_choices: list[tuple[str, str]] = []
    if spec.program_start is not None and spec.program_start < spec.today:
        data_from_choices = [
            ("program", _("From the start of my program (%(day)s)") % {"day": long_date(spec.program_start)}),
            ("today", _("Only from today (%(day)s)") % {"day": long_date(spec.today)}),
        ]
    return {
        "spec": spec,
        "heading": spec.heading,
        "sections": consent_sections(terms),
        "values": values,
        "errors": errors or {},
        "chosen": set(chosen),
        "until_choices": until_choices,
        "data_from_choices": data_from_choices,
        "min_date": spec.today.isoformat(),
        "max_date": latest.isoformat(),
        "max_days": MAX_DAYS,
    }


def categories_in(options: Iterable[Any]) -> list[str]:
    return [o.id for o in options]
