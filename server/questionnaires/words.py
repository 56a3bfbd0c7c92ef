"""Results in plain, kind words: never a bare clinical label without its context. One sentence per band (so each
translates whole), then how it compares with the previous result, in the reader's language."""

from __future__ import annotations

from datetime import date

from babel.dates import format_date

from server.i18n import current_locale
from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l
from server.questionnaires.scoring import Change, Score

BAND_LABELS = {
    "minimal": _l("minimal"),
    "mild": _l("mild"),
    "moderate": _l("moderate"),
    "moderately_severe": _l("moderately severe"),
    "severe": _l("severe"),
}

_PHQ9 = {
    "minimal": _l("Your answers suggest few or no signs of depression over the last two weeks."),
    "mild": _l("Your answers suggest mild depression over the last two weeks."),
    "moderate": _l("Your answers suggest moderate depression over the last two weeks."),
    "moderately_severe": _l(
        "Your answers suggest moderately severe depression over the last two weeks. You don't have to carry this "
        "alone: your care team can help."
    ),
    "severe": _l(
        "Your answers suggest severe depression over the last two weeks. Please talk with your care team soon: "
        "this can get better with the right help."
    ),
}
_GAD7 = {
    "minimal": _l("Your answers suggest little or no anxiety over the last two weeks."),
    "mild": _l("Your answers suggest mild anxiety over the last two weeks."),
    "moderate": _l(
        "Your answers suggest moderate anxiety over the last two weeks. It may be worth a closer look with your "
        "care team."
    ),
    "severe": _l(
        "Your answers suggest severe anxiety over the last two weeks. Please talk with your care team soon: "
        "there is help that works."
    ),
}

FLAG_LABELS = {
    "item9": _l("Item 9 above 0: same-day follow-up"),
    "phq9_high": _l("PHQ-9 high"),
    "gad7_high": _l("GAD-7 high"),
    "bam_use": _l("BAM: any use"),
    "bam_risk": _l("BAM: risk high"),
    "bam_protective": _l("BAM: protection low"),
}

SUBSCALE_LABELS = {"use": _l("Use"), "risk": _l("Risk"), "protective": _l("Protective")}


def band_label(band: str | None) -> str:
    return str(BAND_LABELS.get(band or "", band or ""))


def day_text(day: date | None) -> str:
    if day is None:
        return ""
    return format_date(day, "long", locale=current_locale.get())


def summary_sentence(result: Score) -> str:
    if result.code == "phq9" and result.band in _PHQ9:
        return str(_PHQ9[result.band])
    if result.code == "gad7" and result.band in _GAD7:
        return str(_GAD7[result.band])
    return ""


def bam_sentences(result: Score) -> list[str]:
    sub = result.subscales
    use, risk, protective = sub.get("use", 0), sub.get("risk", 0), sub.get("protective", 0)
    lines = [
        _("No alcohol or drug use in the past 7 days. That counts.")
        if use == 0
        else _(
            "You noted some alcohol or drug use in the past 7 days. Thank you for being honest: it helps your care "
            "team support you, without judgment."
        ),
        (
            _("Quite a few things that can make recovery harder came up this week (risk %(n)s of 24).")
            if risk >= 12
            else _("Things that can make recovery harder: %(n)s of 24 (lower is easier).")
        )
        % {"n": risk},
        (
            _("Your supports looked thinner this week (%(n)s of 24). Your care team can help you add some.")
            if protective <= 12
            else _("You had good supports around you this week (%(n)s of 24, higher is stronger).")
        )
        % {"n": protective},
    ]
    return lines


def bam_previous_sentence(previous: Score | None, previous_day: date | None) -> str:
    """The BAM has no total to compare: the three sub-scores of last time, side by side."""
    if previous is None or not previous.subscales:
        return ""
    sub = previous.subscales
    return _("Last time, on %(day)s: use %(use)s, risk %(risk)s, protective %(protective)s.") % {
        "day": day_text(previous_day),
        "use": sub.get("use", 0),
        "risk": sub.get("risk", 0),
        "protective": sub.get("protective", 0),
    }


def change_sentence(change: Change | None, previous_day: date | None) -> str:
    """'A little lower than your last result (12 November).' Lower is better on both scales."""
    if change is None:
        return ""
    when = day_text(previous_day)
    diff = change.difference
    if diff == 0:
        text = _("That is the same as your last result, on %(day)s.")
    elif change.reliable and diff < 0:
        text = _("That is clearly lower than your last result, on %(day)s: a real change for the better.")
    elif change.reliable:
        text = _("That is clearly higher than your last result, on %(day)s. Your care team can help with this.")
    elif diff < 0:
        text = _("That is a little lower than your last result, on %(day)s.")
    else:
        text = _("That is a little higher than your last result, on %(day)s.")
    return text % {"day": when}


def change_note(change: Change | None) -> str:
    """For therapists: the difference, whether it is a reliable change, and a PHQ-9 response."""
    if change is None:
        return ""
    parts = [_("%(diff)s since the previous result") % {"diff": f"{change.difference:+d}"}]
    if change.reliable:
        parts.append(_("reliable change (%(n)s points or more)") % {"n": change.threshold})
    else:
        parts.append(_("within measurement noise"))
    if change.response:
        parts.append(_("response (a drop of 5 or more)"))
    return "; ".join(parts)
