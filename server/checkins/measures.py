"""Every check-in measure, declared once. Adding a measure is one `Measure(...)` here, a migration that adds its
column, translations and tests: everything else reads this tuple.

What reads it:
- `checkins/models.py` — the `checkin` column (measures the model doesn't declare itself get one from here);
- `checkins/forms.py` — the form field with its bounds and kind error messages; `_checkin_form.html` renders
  the fields of each `group` in order;
- `checkins/logic.py` — copying answers from the form to the row and into kept revisions;
- `checkins/progress.py` and `progress.html` — the range's figure per measure (`progress=True`);
- `sharing/summary.py`, `sharing/exports.py`, `sharing/_week.html` — the therapist's weekly figure, in the
  section of the measure's consent `category`, only when the patient shares that category (`summary=True`);
- `checkins/export.py` — the patient's own CSV/JSON export (every measure);
- `consent/wording.py` — a measure with a `consent_phrase` is named under its category on the consent screen;
- `checkins/demo.py` — demo values (`demo`).

Kinds: ``scale`` (whole numbers lo–hi, radio buttons, or a labelled list with `choices`), ``number`` (a decimal
between lo and hi), ``choice`` (one of `choices`, stored as text, '' when not answered), ``yesno`` (a required
yes/no, stored as a boolean) and ``flag`` (a checkbox).

Aggregates (over a week or a Progress range): ``mean``, ``sum``, ``max``, ``any`` (true on any day), ``last``
(the latest day's answer) and ``count`` (how many days had an answer other than the measure's `none` value, shown
with its `unit`).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from server.i18n import current_locale
from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l

Kind = Literal["scale", "number", "choice", "yesno", "flag"]
Aggregate = Literal["mean", "sum", "max", "any", "last", "count"]
# Where the form shows it: "top" (first), "used" (the bespoke used/what/how-much block), "daily" (after it),
# "diary" (the DBT diary card, only when the patient has it switched on).
Group = Literal["top", "used", "daily", "diary"]
Demo = Callable[[random.Random, bool], Any]  # (random source, used that day) -> value


@dataclass(frozen=True)
class Measure:
    name: str  # the column and the form field
    label: Any  # short name (lazy): Progress, summaries, exports
    kind: Kind
    aggregate: Aggregate
    category: str | None  # the consent category that shares it with a therapist; None: never shared
    group: Group = "daily"
    lo: float = 0
    hi: float = 10
    step: float = 1
    required: bool = False
    question: Any = None  # the form's label (lazy); defaults to `label`
    question_late: Any = None  # the label for an earlier day (lazy): "How was your mood that day?"
    hint: Any = ""
    choices: tuple[tuple[Any, Any], ...] = ()  # (stored value, lazy label)
    words: dict[int, Any] = field(default_factory=dict)  # scale end words (mood, craving)
    style: str = "plain"  # the scale macro's look ("mood", "craving")
    unit: Any = None  # lazy "%(n)s hours": how a value reads
    follows: str | None = None  # a flag shown right after this measure (a diary urge's "I acted on it")
    progress: bool = False  # a figure on Progress for the chosen range
    summary: bool = False  # a figure in the therapist's weekly summary (when `category` is shared)
    summary_sentence: Any = None  # lazy "%(n)s" sentence for the weekly summary page; defaults to label: value
    consent_phrase: Any = None  # named under its category on the consent screen (lazy)
    messages: dict[str, Any] = field(default_factory=dict)  # pydantic error type -> kind message (lazy)
    demo: Demo | None = None
    none: str = ""  # a `choice` answer that means "nothing to count" (for the `count` aggregate)

    # --- values ------------------------------------------------------------------------------------------------

    @property
    def python_type(self) -> type:
        return {"scale": int, "number": float, "choice": str, "yesno": bool, "flag": bool}[self.kind]

    def stored(self, form_value: Any) -> Any:
        """The column value for a validated form value."""
        if self.kind == "yesno":
            return form_value == "yes"
        if self.kind == "choice":
            return form_value or ""
        if self.kind == "flag":
            return bool(form_value)
        return form_value

    def form_value(self, stored: Any) -> Any:
        """A stored value as the form shows it (text)."""
        if self.kind == "yesno":
            return "yes" if stored else "no"
        if stored is None or stored is False:
            return ""
        if stored is True:
            return "yes"
        if isinstance(stored, float):
            return f"{stored:g}"
        return str(stored)

    def display(self, value: Any) -> str:
        """How one value (or an aggregate of values) reads on a page, in the reader's language. Remembered per
        language and value: Progress shows a range's days × measures, each through lazy translated words."""
        try:
            return _displayed(self.name, current_locale.get(), type(value).__name__, value)
        except TypeError:  # a value that can't be a key (a list): worked out each time
            return self._display(value)

    def _display(self, value: Any) -> str:
        if value is None or value == "":
            return "—"
        if self.kind in ("yesno", "flag") or isinstance(value, bool):
            return _("yes") if value else _("no")
        if self.choices:
            label = dict(self.choices).get(value)
            if self.kind == "choice":
                return str(label or value)
            if label is not None:
                return f"{_number(value)}: {label}"
        number = _number(value)
        if self.unit is not None:
            return str(self.unit) % {"n": number}
        if self.kind == "scale":
            return _("%(n)s of %(top)s") % {"n": number, "top": _number(self.hi)}
        return number

    def aggregate_of(self, values: Iterable[Any]) -> Any:
        """The measure's aggregate over the answers of several days, oldest first (None if nobody answered)."""
        answered = [v for v in values if v is not None and v != ""]
        if not answered:
            return None
        if self.aggregate == "any":
            return any(bool(v) for v in answered)
        if self.aggregate == "last":
            return answered[-1]
        if self.aggregate == "count":
            return sum(1 for v in answered if v != self.none)
        if self.aggregate == "max":
            return max(answered)
        total = float(sum(answered))
        return round(total / len(answered) if self.aggregate == "mean" else total, 1)

    def aggregate_text(self, value: Any) -> str:
        """An aggregate as a phrase: "6.5 hours on average", "4 hours in total"."""
        shown = self.display(value)
        if value is None:
            return shown
        if self.aggregate == "count" and self.unit is not None:
            return str(self.unit) % {"n": _number(value)}
        return {
            "mean": _("%(value)s on average"),
            "sum": _("%(value)s in total"),
            "max": _("highest %(value)s"),
            "any": "%(value)s",
            "last": _("latest: %(value)s"),
        }[self.aggregate] % {"value": shown}

    def sentence(self, value: Any) -> str:
        """The weekly summary page's line for this measure."""
        if self.summary_sentence is not None and value is not None:
            return str(self.summary_sentence) % {"n": _number(value)}
        return f"{self.label}: {self.aggregate_text(value)}"

    @property
    def form_label(self) -> str:
        return str(self.question or self.label)

    def label_for(self, late: bool = False) -> str:
        """The question as asked on the form; a late entry asks about that day, not "today" or "right now"."""
        if late and self.question_late is not None:
            return str(self.question_late)
        return self.form_label

    def message(self, error_type: str) -> str | None:
        if error_type in self.messages:
            return str(self.messages[error_type])
        if self.kind == "number" and error_type in ("float_parsing", "finite_number"):
            return _("Please enter a number, like %(example)s.") % {"example": _number(self.lo + self.step)}
        if self.kind == "scale" and error_type == "missing":
            return _("Please pick a number from %(lo)s to %(hi)s.") % {"lo": _number(self.lo), "hi": _number(self.hi)}
        return None


def _number(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.1f}"
        return text[:-2] if text.endswith(".0") else text
    return str(value)


# --- the measures --------------------------------------------------------------------------------------------

_HOURS = _l("%(n)s hours")


def _emotion(name: str, label: Any, demo_low: int, demo_high: int) -> Measure:
    return Measure(
        name,
        label,
        "scale",
        "max",
        "diary_card",
        group="diary",
        hi=5,
        demo=lambda rng, used: rng.randint(demo_low, demo_high),
    )


def _acted(name: str, label: Any) -> Measure:
    return Measure(
        name,
        label,
        "flag",
        "any",
        "diary_card",
        group="diary",
        question=_l("I acted on this urge"),
        demo=(lambda rng, used: used) if name == "acted_use" else (lambda rng, used: False),
    )


SKILLS_SCALE = (
    (0, _l("Didn't think about or use skills")),
    (1, _l("Thought about them, didn't use them, didn't want to")),
    (2, _l("Thought about them, didn't use them, wanted to")),
    (3, _l("Tried, but couldn't use them")),
    (4, _l("Tried, could use them, but they didn't help")),
    (5, _l("Tried, could use them, and they helped")),
    (6, _l("Didn't try, used them anyway, didn't help")),
    (7, _l("Didn't try, used them anyway, and they helped")),
)

# "Did you go to a support meeting?" (the meeting finder's companion question, for life after the program).
SUPPORT_MEETINGS = (
    ("none", _l("No meeting today")),
    ("aa", _l("AA")),
    ("na", _l("NA")),
    ("smart", _l("SMART Recovery")),
    ("refuge", _l("Refuge Recovery")),
    ("other", _l("Another meeting")),
)

MEASURES: tuple[Measure, ...] = (
    Measure(
        "mood",
        _l("Mood"),
        "scale",
        "mean",
        "mood_sleep",
        group="top",
        required=True,
        question=_l("How is your mood right now?"),
        question_late=_l("How was your mood that day?"),
        hint=_l("0 is the lowest you can feel, 10 the best."),
        words={0: _l("very low"), 5: _l("okay"), 10: _l("very good")},
        style="mood",
        messages={"missing": _l("Please pick a number for your mood, from 0 to 10.")},
    ),
    Measure(
        "craving",
        _l("Craving"),
        "scale",
        "mean",
        "cravings_triggers",
        group="top",
        required=True,
        question=_l("How strong is any craving right now?"),
        question_late=_l("How strong were cravings that day?"),
        hint=_l("0 means no craving at all."),
        words={0: _l("none"), 5: _l("medium"), 10: _l("strongest")},
        style="craving",
        messages={"missing": _l("Please pick a number for your craving, from 0 to 10. 0 means none.")},
    ),
    Measure(
        "used",
        _l("Used"),
        "yesno",
        "any",
        "substance_use",
        group="used",
        required=True,
        question=_l("Did you drink or use drugs today?"),
        question_late=_l("Did you drink or use drugs that day?"),
        hint=_l("There's no wrong answer. An honest answer helps you and your care team see what's working."),
        messages={
            "missing": _l("Please choose yes or no. There's no wrong answer."),
            "literal_error": _l("Please choose yes or no. There's no wrong answer."),
        },
    ),
    Measure(
        "sleep_hours",
        _l("Hours slept"),
        "number",
        "mean",
        "mood_sleep",
        hi=24,
        step=0.5,
        question=_l("Hours slept last night (optional)"),
        unit=_HOURS,
        progress=True,
        summary=True,
        summary_sentence=_l("Sleep: %(n)s hours a night on average."),
        messages={
            "less_than_equal": _l("Please enter 24 hours or less."),
            "greater_than_equal": _l("Please enter 0 hours or more."),
            "float_parsing": _l("Please enter a number of hours, like 7 or 6.5."),
            "finite_number": _l("Please enter a number of hours, like 7 or 6.5."),
        },
        demo=lambda rng, used: round(rng.uniform(5, 8.5) * 2) / 2,
    ),
    Measure(
        "exercise_hours",
        _l("Hours of exercise"),
        "number",
        "sum",
        "mood_sleep",
        hi=24,
        step=0.5,
        question=_l("Hours of exercise or movement today (optional)"),
        question_late=_l("Hours of exercise or movement that day (optional)"),
        hint=_l("A walk counts. 0.5 is half an hour."),
        unit=_HOURS,
        progress=True,
        summary=True,
        consent_phrase=_l("hours of exercise"),
        demo=lambda rng, used: rng.choice((0, 0, 0.5, 0.5, 1, 1.5)),
    ),
    Measure(
        "medication",
        _l("Medication"),
        "choice",
        "last",
        None,  # the patient's own reminder; not part of any consent category
        question=_l("Did you take your medication today? (optional)"),
        question_late=_l("Did you take your medication that day? (optional)"),
        choices=(("yes", _l("Yes")), ("no", _l("No")), ("na", _l("Not for me"))),
        demo=lambda rng, used: rng.choice(("yes", "yes", "yes", "no")),
    ),
    Measure(
        "support_meeting",
        _l("Support meetings"),
        "choice",
        "count",
        "attendance",  # shared with a therapist under "Group attendance"
        question=_l("Did you go to a support meeting today? (optional)"),
        question_late=_l("Did you go to a support meeting that day? (optional)"),
        choices=SUPPORT_MEETINGS,
        none="none",
        unit=_l("%(n)s days with a meeting"),
        progress=True,
        summary=True,
        summary_sentence=_l("Support meetings: went on %(n)s days."),
        consent_phrase=_l("the support meetings you went to (AA, NA, SMART, Refuge Recovery or another)"),
        demo=lambda rng, used: rng.choice(("", "none", "none", "aa", "smart")),
    ),
    _emotion("emo_sadness", _l("Sadness"), 0, 4),
    _emotion("emo_anger", _l("Anger"), 0, 4),
    _emotion("emo_fear", _l("Fear"), 0, 4),
    _emotion("emo_shame", _l("Shame or guilt"), 0, 3),
    _emotion("emo_joy", _l("Joy"), 1, 5),
    Measure(
        "urge_use",
        _l("Urge to use"),
        "scale",
        "max",
        "diary_card",
        group="diary",
        hi=5,
        follows="acted_use",
        demo=lambda rng, used: rng.randint(0, 4),
    ),
    _acted("acted_use", _l("Acted on the urge to use")),
    Measure(
        "urge_self_harm",
        _l("Urge to hurt myself"),
        "scale",
        "max",
        "diary_card",
        group="diary",
        hi=5,
        follows="acted_self_harm",
        demo=lambda rng, used: 0,
    ),
    _acted("acted_self_harm", _l("Acted on the urge to hurt myself")),
    Measure(
        "urge_quit_treatment",
        _l("Urge to quit treatment"),
        "scale",
        "max",
        "diary_card",
        group="diary",
        hi=5,
        follows="acted_quit_treatment",
        demo=lambda rng, used: rng.randint(0, 2),
    ),
    _acted("acted_quit_treatment", _l("Acted on the urge to quit treatment")),
    Measure(
        "skills_used",
        _l("Skills used"),
        "scale",
        "max",
        "diary_card",
        group="diary",
        hi=7,
        question=_l("Skills used today"),
        question_late=_l("Skills used that day"),
        choices=SKILLS_SCALE,
        demo=lambda rng, used: rng.choice((2, 4, 5, 5, 7)),
    ),
)

BY_NAME: dict[str, Measure] = {m.name: m for m in MEASURES}
DIARY: tuple[Measure, ...] = tuple(m for m in MEASURES if m.group == "diary")


def in_group(group: Group) -> tuple[Measure, ...]:
    return tuple(m for m in MEASURES if m.group == group)


def shown_after(measure: Measure) -> Measure | None:
    return BY_NAME.get(measure.follows) if measure.follows else None


def followers() -> frozenset[str]:
    """Flags shown right after another measure (not on their own)."""
    return frozenset(m.follows for m in MEASURES if m.follows)


def for_category(category: str, *, summary: bool | None = None) -> tuple[Measure, ...]:
    return tuple(m for m in MEASURES if m.category == category and (summary is None or m.summary == summary))


def on_progress() -> tuple[Measure, ...]:
    return tuple(m for m in MEASURES if m.progress)


def consent_phrases(category: str) -> list[str]:
    """What the consent screen names under a category beyond its own hint (measures added later)."""
    return [str(m.consent_phrase) for m in MEASURES if m.category == category and m.consent_phrase is not None]


def checkin_categories() -> frozenset[str]:
    return frozenset(m.category for m in MEASURES if m.category)


def names(measures: Sequence[Measure] = MEASURES) -> tuple[str, ...]:
    return tuple(m.name for m in measures)


@functools.lru_cache(maxsize=4096)
def _displayed(name: str, locale: str, _kind: str, value: Any) -> str:
    """`Measure.display`, by measure name, language and value (its type too: True == 1 but reads "yes")."""
    return BY_NAME[name]._display(value)
