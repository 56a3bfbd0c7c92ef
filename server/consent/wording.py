"""What a consent says: the categories a patient can share and the consent text with every element of a
42 CFR § 2.31 consent, built once as structured sections so the screen and the stored plain text never differ.

The consent screen (`consent/_consent_form.html`) renders these sections with the choices as form controls;
`plain_text(sections)` renders the same sections, with the patient's choices filled in, as the text stored on the
signed `Consent` row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from babel.dates import format_date

from server.i18n import current_locale
from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l


@dataclass(frozen=True)
class CategoryOption:
    """One checkbox on a consent screen."""

    id: str
    label: object  # a lazy translated string
    hint: object = ""
    default: bool = True
    sensitive: bool = False  # says plainly that it is substance use information


THERAPIST_CATEGORIES: tuple[CategoryOption, ...] = (
    CategoryOption("mood_sleep", _l("Mood and sleep"), _l("Your daily mood (0–10) and hours of sleep.")),
    CategoryOption(
        "cravings_triggers",
        _l("Cravings and triggers"),
        _l("How strong cravings were, when they peaked and what set them off."),
        sensitive=True,
    ),
    CategoryOption(
        "substance_use",
        _l("Substance use"),
        _l("Days you used, and what and how much if you wrote it down."),
        sensitive=True,
    ),
    CategoryOption(
        "diary_card",
        _l("DBT diary card"),
        _l("Emotions, urges (including urges to use or to hurt yourself) and whether you acted on them."),
        sensitive=True,
    ),
    CategoryOption("skill_practice", _l("Skill practice"), _l("Which skills you practised and how much they helped.")),
    CategoryOption("attendance", _l("Group attendance"), _l("Which groups you went to or missed.")),
    CategoryOption(
        "questionnaires",
        _l("Questionnaires"),
        _l(
            "Your answers and scores on the mood, anxiety and recovery questionnaires (PHQ-9, GAD-7, Brief "
            "Addiction Monitor), including any answer about thoughts of hurting yourself."
        ),
        sensitive=True,
    ),
    CategoryOption(
        "notes",
        _l("My free-text notes"),
        _l("What you wrote in the notes of your check-ins. Off unless you turn it on."),
        default=False,
    ),
)

FAMILY_CATEGORIES: tuple[CategoryOption, ...] = (
    CategoryOption("sober_days", _l("Sober-day milestones"), _l("For example “30 days sober”.")),
    CategoryOption("checkin_streak", _l("Check-in streaks"), _l("For example “checked in 7 days in a row”.")),
    CategoryOption("phase_completed", _l("Finishing a phase of the program"), _l("For example “finished weeks 1–4”.")),
    CategoryOption("program_completed", _l("Finishing the program")),
    CategoryOption("good_news", _l("Good news I choose to send"), _l("Only the messages you write and send yourself.")),
)

THERAPIST_CATEGORY_IDS = frozenset(c.id for c in THERAPIST_CATEGORIES)
FAMILY_CATEGORY_IDS = frozenset(c.id for c in FAMILY_CATEGORIES)


def category_labels(options: Iterable[CategoryOption], chosen: Iterable[str]) -> list[str]:
    wanted = set(chosen)
    return [str(o.label) for o in options if o.id in wanted]


def long_date(day: date) -> str:
    return format_date(day, "long", locale=current_locale.get())


@dataclass(frozen=True)
class Item:
    """A line of a section; `choice` marks a checkbox (its state goes in `checked`)."""

    text: str
    hint: str = ""
    choice: str = ""
    checked: bool = False


@dataclass(frozen=True)
class Section:
    # 'patient', 'discloser', 'recipient', 'what', 'purpose', 'until', 'revoke', 'voluntary', 'redisclose', 'signature'
    key: str
    title: str
    paragraphs: tuple[str, ...] = ()
    items: tuple[Item, ...] = ()
    emphasis: int = -1  # index of a paragraph the screen shows in bold (the plain-spoken substance-use warning)


@dataclass(frozen=True)
class ConsentTerms:
    """Everything the text depends on. `chosen` is empty while the patient hasn't ticked anything."""

    patient_name: str
    discloser: str  # the clinic running Steady
    recipient_name: str
    recipient_description: str  # e.g. "your therapist at Demo Recovery Center"
    purpose: str
    options: Sequence[CategoryOption]
    chosen: frozenset[str] = field(default_factory=frozenset)
    data_from: date | None = None
    ends_label: str = ""  # e.g. "at the end of 14 March 2027" (filled in when signing)
    signature: str = ""
    signed_on: date | None = None
    substance_info: bool = True  # whether any choice can include substance use information
    what_notes: tuple[str, ...] = ()  # extra sentences under "What is shared" (e.g. what comes with any choice)
    revoke_where: str = ""  # the page where revoking is one tap, e.g. "the Sharing page"

    def with_choices(self, **changes: Any) -> ConsentTerms:
        return replace(self, **changes)


def _what_section(terms: ConsentTerms) -> Section:
    """What is shared: the choices, with the plain-spoken substance-use warning when any choice can include it."""
    paragraphs = [_("Tick what %(recipient)s may see:") % {"recipient": terms.recipient_name}]
    emphasis = -1
    if terms.substance_info:
        emphasis = len(paragraphs)
        paragraphs.append(
            _(
                "This includes information about your substance use and your treatment for it. Federal law "
                "(42 CFR part 2) gives that information extra protection, and only what you tick here is shared."
            )
        )
    paragraphs.extend(terms.what_notes)
    if terms.data_from is not None:
        paragraphs.append(_("Only information from %(day)s onwards is shared.") % {"day": long_date(terms.data_from)})
    items = tuple(
        Item(text=str(o.label), hint=str(o.hint), choice=o.id, checked=o.id in terms.chosen) for o in terms.options
    )
    return Section("what", _("What is shared"), tuple(paragraphs), items, emphasis)


def _until_paragraphs(terms: ConsentTerms) -> tuple[str, ...]:
    if terms.ends_label:
        return (_("This consent ends %(when)s, unless you revoke it sooner.") % {"when": terms.ends_label},)
    return (_("This consent lasts until the date you choose below, at most one year, unless you revoke it sooner."),)


def _signature_paragraphs(terms: ConsentTerms) -> tuple[str, ...]:
    signature_paragraphs = [_("Type your full name to sign. Typing your name is your electronic signature.")]
    if terms.signature and terms.signed_on is not None:
        signature_paragraphs = [
            _("Signed electronically by typing my name: %(name)s, on %(day)s.")
            % {"name": terms.signature, "day": long_date(terms.signed_on)}
        ]
    return tuple(signature_paragraphs)


def consent_sections(terms: ConsentTerms) -> list[Section]:
    """The consent, section by section, in the order the patient reads it."""
    return [
        Section("patient", _("Your name"), (terms.patient_name,)),
        Section(
            "discloser",
            _("Who shares"),
            (_("%(clinic)s, through the Steady app it runs for its patients.") % {"clinic": terms.discloser},),
        ),
        Section(
            "recipient",
            _("Who receives it"),
            (f"{terms.recipient_name}, {terms.recipient_description}",),
        ),
        _what_section(terms),
        Section("purpose", _("Why"), (terms.purpose,)),
        Section("until", _("Until when"), _until_paragraphs(terms)),
        Section(
            "revoke",
            _("You can change your mind"),
            (
                _(
                    "You can revoke this consent at any time, in one tap, on %(page)s of the Steady app. "
                    "Sharing stops from that moment. Revoking can't undo what was already seen or downloaded before."
                )
                % {"page": terms.revoke_where or _("the Sharing page")},
            ),
        ),
        Section(
            "voluntary",
            _("Your choice"),
            (
                _("Signing is up to you. Your treatment at %(clinic)s doesn't depend on it.")
                % {"clinic": terms.discloser},
            ),
        ),
        Section(
            "redisclose",
            _("Passing it on"),
            (
                _(
                    "Everything shared carries a notice that federal law (42 CFR part 2) forbids passing it on without "
                    "your written consent, except as that law allows."
                ),
            ),
        ),
        Section("signature", _("Signature and date"), _signature_paragraphs(terms)),
    ]


def plain_text(title: str, sections: Sequence[Section]) -> str:
    """The consent as plain text, exactly as shown, with every checkbox marked [x] or [ ]."""
    lines = [title, ""]
    for section in sections:
        lines.append(section.title)
        lines.extend(section.paragraphs)
        for item in section.items:
            if item.choice:
                lines.append(f"[{'x' if item.checked else ' '}] {item.text}" + (f" — {item.hint}" if item.hint else ""))
            else:
                lines.append(f"- {item.text}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
