"""A weekly summary as CSV and as a one-page PDF (ReportLab), each carrying the patient's name, the week and the
42 CFR § 2.32 notice. Both are built from `summary_rows`, which only ever lists what the summary holds — and the
summary only holds the consented categories."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from xml.sax.saxutils import escape

from babel.dates import format_date
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from server.consent.service import redisclosure_notice, redisclosure_translation
from server.i18n import current_locale
from server.i18n import gettext as _
from server.sharing.summary import URGE_KINDS, WeeklySummary, weekday_name


def week_range_text(summary: WeeklySummary) -> str:
    locale = current_locale.get()
    return _("%(start)s to %(end)s") % {
        "start": format_date(summary.week.monday, "long", locale=locale),
        "end": format_date(summary.week.sunday, "long", locale=locale),
    }


def _num(value: float | int | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:.1f}"
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def urge_label(kind: str) -> str:
    return {
        "use": _("Urge to use"),
        "self_harm": _("Urge to self-harm"),
        "quit_treatment": _("Urge to quit treatment"),
    }[kind]


@dataclass(frozen=True)
class Row:
    section: str
    measure: str
    value: str
    daily: bool = False  # a per-day value, also shown in the PDF's day-by-day grid


def _measure_rows(summary: WeeklySummary, category: str, section: str) -> list[Row]:
    """The category's check-in measures from the spec (server/checkins/measures.py), each with its week figure."""
    return [Row(section, str(m.label), m.aggregate_text(value)) for m, value in summary.measure_figures(category)]


def summary_rows(summary: WeeklySummary) -> list[Row]:
    """Every figure of the summary as (section, measure, value), in reading order. Only shared categories."""
    rows: list[Row] = []
    s = summary
    if s.shows_adherence and s.checkin_days is not None:
        rows.append(
            Row(
                _("Check-ins"),
                _("Days checked in"),
                _("%(n)s of %(days)s") % {"n": s.checkin_days, "days": s.days_counted},
            )
        )
    if s.shares("mood_sleep"):
        sec = _("Mood and sleep")
        rows += [
            Row(sec, _("Mood average (0–10)"), _num(s.mood_avg)),
            Row(sec, _("Lowest mood"), _num(s.mood_min)),
            Row(sec, _("Highest mood"), _num(s.mood_max)),
            Row(sec, _("Change from the week before"), _num(s.mood_change)),
        ]
        rows += _measure_rows(s, "mood_sleep", sec)
        rows += [
            Row(sec, _("Mood on %(day)s") % {"day": weekday_name(d)}, _num(v), daily=True) for d, v in s.mood_by_day
        ]
    if s.shares("cravings_triggers"):
        sec = _("Cravings and triggers")
        rows += [
            Row(sec, _("Craving average (0–10)"), _num(s.craving_avg)),
            Row(sec, _("Strongest craving"), _num(s.craving_peak)),
            Row(sec, _("When it peaked"), s.craving_peak_when or "—"),
            Row(sec, _("Days with a strong craving"), _num(s.craving_high_days)),
            Row(sec, _("Cravings logged"), _num(s.craving_logs)),
        ]
        rows += [
            Row(sec, _("Craving on %(day)s") % {"day": weekday_name(d)}, _num(v), daily=True)
            for d, v in s.craving_by_day
        ]
        rows += [Row(sec, _("Trigger"), f"{label} ({n})") for label, n in s.top_triggers]
        rows += _measure_rows(s, "cravings_triggers", sec)
    if s.shares("substance_use") and s.use_days is not None:
        sec = _("Substance use")
        rows.append(Row(sec, _("Days with use"), _num(len(s.use_days))))
        rows += [Row(sec, _("Used on"), weekday_name(d)) for d in s.use_days]
        rows += _measure_rows(s, "substance_use", sec)
    if s.shares("diary_card"):
        sec = _("DBT diary card")
        rows.append(Row(sec, _("Days with a diary card"), _num(len(s.diary_days))))
        for kind in URGE_KINDS:
            rows.append(Row(sec, _("%(urge)s, highest (0–5)") % {"urge": urge_label(kind)}, _num(s.urge_max.get(kind))))
            rows.append(
                Row(
                    sec,
                    _("%(urge)s, acted on") % {"urge": urge_label(kind)},
                    _("yes") if s.acted_on.get(kind) else _("no"),
                )
            )
        rows += _measure_rows(s, "diary_card", sec)
    if s.shares("skill_practice") and s.skills_count is not None:
        sec = _("Skill practice")
        rows += [
            Row(sec, _("Skills practised"), _num(s.skills_count)),
            Row(sec, _("Average drop in distress"), _num(s.skills_avg_drop)),
        ]
        rows += [Row(sec, _("Card"), f"{title} ({n})") for title, n in s.skills_top]
        rows += [Row(sec, _("Homework finished"), title) for title in s.homework_done]
        rows += [Row(sec, _("Homework still open"), title) for title in s.homework_open]
        rows += _measure_rows(s, "skill_practice", sec)
    if s.shares("attendance") and s.groups_scheduled is not None:
        sec = _("Group attendance")
        rows += [
            Row(sec, _("Groups so far"), _num(s.groups_scheduled)),
            Row(sec, _("Attended"), _num(s.groups_attended)),
            Row(sec, _("Missed"), _num(s.groups_missed)),
        ]
        rows += _measure_rows(s, "attendance", sec)
    if s.shares("notes"):
        sec = _("Notes")
        rows += [Row(sec, weekday_name(d), text) for d, text in s.notes]
    return rows


def export_filename(summary: WeeklySummary, ext: str) -> str:
    # No name in the file name: file names end up in download lists and sync logs.
    return f"steady-week-{summary.week.label}-patient-{summary.patient_id}.{ext}"


def summary_csv(summary: WeeklySummary, patient_name: str, extra: Sequence[Row] = ()) -> bytes:
    """UTF-8 CSV with a BOM (spreadsheets read accents right); the § 2.32 notice comes first."""
    out = io.StringIO()
    writer = csv.writer(out)
    _notice_rows(writer)
    writer.writerow([_("Patient"), _cell(patient_name)])
    writer.writerow([_("Week"), summary.week.label, week_range_text(summary)])
    writer.writerow([])
    writer.writerow([_("Section"), _("Measure"), _("Value")])
    for row in [*summary_rows(summary), *extra]:
        writer.writerow([row.section, row.measure, _cell(row.value)])
    if summary.flags:
        writer.writerow([])
        for flag in summary.flags:
            writer.writerow([_("Flag"), flag.label, ""])
    if summary.highlights:
        for line in summary.highlights:
            writer.writerow([_("What stood out"), _cell(line), ""])
    writer.writerow([])
    _notice_rows(writer)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(value: str) -> str:
    # A patient's note starting with = + - @ must not run as a spreadsheet formula.
    if value and value[0] in "=+-@\t\r":
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


# --- PDF -----------------------------------------------------------------------------------------------------

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/local/share/fonts"))


def _fonts() -> tuple[str, str]:
    """DejaVu Sans when the system has it (covers accents and most scripts), else the built-in Helvetica."""
    try:
        pdfmetrics.getFont("SteadySans")
        return "SteadySans", "SteadySans-Bold"
    except KeyError:
        pass
    for folder in _FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdfmetrics.registerFont(TTFont("SteadySans", str(regular)))
            pdfmetrics.registerFont(TTFont("SteadySans-Bold", str(bold)))
            return "SteadySans", "SteadySans-Bold"
    return "Helvetica", "Helvetica-Bold"


class _RowWriter(Protocol):
    """What csv.writer returns (the stdlib doesn't name its type)."""

    def writerow(self, row: Iterable[Any], /) -> Any: ...


def _notice_rows(writer: _RowWriter) -> None:
    writer.writerow([_("Notice"), redisclosure_notice()])
    translation = redisclosure_translation(current_locale.get())
    if translation:
        writer.writerow([_("Notice"), translation])


def summary_pdf(summary: WeeklySummary, patient_name: str, clinic_name: str, extra: Sequence[Row] = ()) -> bytes:
    """A one-page weekly diary-card summary (longer notes may run on); the § 2.32 notice is on every page."""
    regular, bold = _fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=11.5, alignment=TA_LEFT)
    small = ParagraphStyle("small", parent=body, fontSize=7, leading=8.6, textColor=colors.HexColor("#333333"))
    h1 = ParagraphStyle("h1", parent=body, fontName=bold, fontSize=14, leading=17, spaceAfter=2)
    h2 = ParagraphStyle("h2", parent=body, fontName=bold, fontSize=10.5, leading=13, spaceBefore=6, spaceAfter=2)
    cell = ParagraphStyle("cell", parent=body, fontSize=8.5, leading=10.5)
    buffer = io.BytesIO()
    translation = redisclosure_translation(current_locale.get())
    notice = redisclosure_notice() + (f"\n\n{translation}" if translation else "")
    title = _("Weekly summary: %(name)s") % {"name": patient_name}

    def page(c: Canvas, doc: object) -> None:
        c.saveState()
        para = Paragraph(escape(notice).replace("\n", "<br/>"), small)
        width = LETTER[0] - 1.2 * inch
        _w, h = para.wrap(width, 2 * inch)
        para.drawOn(c, 0.6 * inch, 0.45 * inch)
        c.setFont(regular, 7)
        c.drawRightString(
            LETTER[0] - 0.6 * inch,
            0.45 * inch + h + 4,
            f"{patient_name} · {summary.week.label} · " + _("page %(n)s") % {"n": c.getPageNumber()},
        )
        c.restoreState()

    doc = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=0.6 * inch,
        rightMargin=0.6 * inch,
        topMargin=0.5 * inch,
        bottomMargin=(2.6 if translation else 1.45) * inch,
        title=title,
        author=clinic_name,
        subject=summary.week.label,
    )
    story: list[object] = [
        Paragraph(escape(title), h1),
        Paragraph(escape(f"{summary.week.label} · {week_range_text(summary)} · {clinic_name}"), body),
        Spacer(1, 4),
    ]
    if summary.flags:
        story.append(Paragraph(escape(_("Flags") + ": " + "; ".join(f.label for f in summary.flags)), body))
    if summary.highlights:
        story.append(Paragraph(escape(_("What stood out")), h2))
        story += [Paragraph("• " + escape(line), body) for line in summary.highlights]
    story += _grid_story(summary, h2, cell)
    story += _section_tables([r for r in [*summary_rows(summary), *extra] if not r.daily], h2, cell)
    doc.build(story, onFirstPage=page, onLaterPages=page)
    return buffer.getvalue()


def _grid_story(summary: WeeklySummary, h2: ParagraphStyle, cell: ParagraphStyle) -> list[object]:
    """The PDF's day-by-day grid (nothing when no daily measure is shared)."""
    grid = diary_grid(summary)
    if not grid:
        return []
    table = Table([[Paragraph(escape(c), cell) for c in row] for row in grid], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8efee")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return [Paragraph(escape(_("The week, day by day")), h2), table]


def _section_tables(rows: Sequence[Row], h2: ParagraphStyle, cell: ParagraphStyle) -> list[object]:
    """One headed two-column table per section, kept on one page each."""
    story: list[object] = []
    sections: dict[str, list[list[object]]] = {}
    for row in rows:  # rows come section by section, so insertion order is reading order
        sections.setdefault(row.section, []).append(
            [Paragraph(escape(row.measure), cell), Paragraph(escape(row.value), cell)]
        )
    for section, block in sections.items():
        table = Table(block, colWidths=[2.8 * inch, 4.4 * inch])
        table.setStyle(
            TableStyle(
                [
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#cccccc")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(KeepTogether([Paragraph(escape(section), h2), table]))
    return story


def diary_grid(summary: WeeklySummary) -> list[list[str]]:
    """Rows of the printable diary-card grid: a header of weekdays, then one row per shared daily measure."""
    s = summary
    days = s.week.days
    header = [""] + [format_date(d, "EEE d", locale=current_locale.get()) for d in days]
    grid: list[list[str]] = []
    if s.shares("mood_sleep"):
        mood = dict(s.mood_by_day)
        grid.append([_("Mood")] + [_num(mood.get(d)) for d in days])
    if s.shares("cravings_triggers"):
        craving = dict(s.craving_by_day)
        grid.append([_("Craving")] + [_num(craving.get(d)) for d in days])
    if s.shares("substance_use") and s.use_days is not None:
        used = set(s.use_days)
        checked = set(s.checkin_dates)
        grid.append([_("Used")] + [(_("yes") if d in used else _("no") if d in checked else "—") for d in days])
    if s.shares("diary_card"):
        cards = {dd.day: dd for dd in s.diary_days}
        for kind in URGE_KINDS:
            values = []
            for d in days:
                dd = cards.get(d)
                if dd is None:
                    values.append("—")
                else:
                    level = _num(dd.urges.get(kind))
                    values.append(level + (" " + _("(acted)") if dd.acted.get(kind) else ""))
            grid.append([urge_label(kind), *values])
        grid.append([_("Skills used (0–7)")] + [_num(cards[d].skills_used) if d in cards else "—" for d in days])
    return [header, *grid] if grid else []
