"""Questionnaire results over time as a small inline SVG (no script, CSP-safe), with its words for screen readers:
totals for the PHQ-9 and GAD-7 (band edges drawn faintly), the three sub-scores for the BAM, and optionally the
program's phase boundaries as labelled vertical lines (the therapist's chart over the whole program)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

from server.i18n import gettext as _
from server.questionnaires.instruments import Instrument
from server.questionnaires.models import Response
from server.questionnaires.words import SUBSCALE_LABELS, day_text

W, H = 340, 150
LEFT, RIGHT, TOP, BOTTOM = 30, 10, 12, 22


def _series(instrument: Instrument, rows: Sequence[Response]) -> list[tuple[str, str, list[tuple[date, int]]]]:
    """(css series, name, points) for each line."""
    if instrument.method == "sum":
        totals = [(r.local_date, r.total) for r in rows if r.local_date is not None and r.total is not None]
        return [("total", instrument.short_name, totals)]
    lines: list[tuple[str, str, list[tuple[date, int]]]] = []
    for sub in instrument.subscales:
        points = [
            (r.local_date, int((r.score or {}).get("subscales", {}).get(sub.key, 0)))
            for r in rows
            if r.local_date is not None
        ]
        lines.append((sub.key, str(SUBSCALE_LABELS.get(sub.key, sub.key)), points))
    return lines


def trend_chart(
    instrument: Instrument,
    rows: Sequence[Response],
    *,
    chart_id: str,
    phases: Sequence[tuple[date, str]] = (),
    start: date | None = None,
    end: date | None = None,
) -> Markup:
    """Oldest first. `phases`: (first day, name) of each program phase; `start`/`end` widen the time axis."""
    series = _series(instrument, rows)
    days = [d for _s, _n, pts in series for d, _v in pts] + [d for d, _l in phases]
    if start:
        days.append(start)
    if end:
        days.append(end)
    if not days:
        return Markup("")
    first, last = min(days), max(days)
    span = max((last - first).days, 1)
    y_max = instrument.max if instrument.method == "sum" else max(s.max for s in instrument.subscales)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(day: date) -> float:
        return LEFT + plot_w * (day - first).days / span

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / y_max)

    title = _("%(name)s over time") % {"name": instrument.short_name}
    parts = [
        f'<svg class="q-chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'focusable="false"><title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(describe(instrument, series, phases))}</desc>',
        f'<line class="q-axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{W - RIGHT}" y2="{TOP + plot_h}"/>',
        f'<text class="q-tick" x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end">{y_max}</text>',
        f'<text class="q-tick" x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for band in instrument.bands[1:]:
        parts.append(
            f'<line class="q-band" x1="{LEFT}" y1="{y(band.min):.1f}" x2="{W - RIGHT}" y2="{y(band.min):.1f}"/>'
        )
    for day, name in phases:
        px = x(day)
        parts.append(f'<line class="q-phase" x1="{px:.1f}" y1="{TOP}" x2="{px:.1f}" y2="{TOP + plot_h}"/>')
        parts.append(f'<text class="q-phase-label" x="{px + 2:.1f}" y="{TOP + 9}">{escape(name[:18])}</text>')
    for css, _name, points in series:
        if not points:
            continue
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(d):.1f},{y(v):.1f}" for i, (d, v) in enumerate(points))
        parts.append(f'<path class="q-line q-line-{css}" d="{path}"/>')
        for d, v in points:
            parts.append(f'<circle class="q-dot q-line-{css}" cx="{x(d):.1f}" cy="{y(v):.1f}" r="3"/>')
    parts.append(
        f'<text class="q-tick" x="{LEFT}" y="{H - 6}">{escape(day_text(first))}</text>'
        f'<text class="q-tick" x="{W - RIGHT}" y="{H - 6}" text-anchor="end">{escape(day_text(last))}</text></svg>'
    )
    return Markup("".join(parts))


def describe(
    instrument: Instrument,
    series: Sequence[tuple[str, str, list[tuple[date, int]]]],
    phases: Sequence[tuple[date, str]],
) -> str:
    sentences = []
    for _css, name, points in series:
        if not points:
            continue
        sentences.append(
            _("%(name)s: %(n)s results, from %(first)s on %(first_day)s to %(last)s on %(last_day)s.")
            % {
                "name": name,
                "n": len(points),
                "first": points[0][1],
                "first_day": day_text(points[0][0]),
                "last": points[-1][1],
                "last_day": day_text(points[-1][0]),
            }
        )
    if phases:
        sentences.append(
            _("Phases start on: %(list)s.") % {"list": "; ".join(f"{name} {day_text(d)}" for d, name in phases)}
        )
    return " ".join(sentences) or _("No results yet.")
