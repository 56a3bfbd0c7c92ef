"""Small inline-SVG charts drawn on the server (no chart JavaScript, nothing for the CSP to block).

Each chart is an ``<svg role="img">`` named by its ``<title>`` and described by a ``<desc>`` that sums it up in
words; the page puts a table of every day's value next to it, so nothing depends on seeing the line.
Colours come from CSS classes (light and dark mode), and points use a different shape per measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache

from babel.dates import format_date, format_time
from markupsafe import Markup, escape

from server.i18n import current_locale
from server.i18n import gettext as _

WIDTH, HEIGHT = 360, 170
LEFT, RIGHT, TOP, BOTTOM = 28, 10, 10, 26


def short_date(day: date) -> str:
    return _short_date(day, current_locale.get())


@lru_cache(maxsize=4096)
def _short_date(day: date, locale: str) -> str:
    # Babel's formatting is slow to call hundreds of times per page; a day's label never changes.
    return format_date(day, "MMM d", locale=locale)


def _fmt(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def summary_text(points: Sequence[tuple[date, float | None]], name: str) -> str:
    """A sentence a screen reader can use instead of looking at the line."""
    known = [(d, v) for d, v in points if v is not None]
    if not known:
        return _("No %(name)s values in these days yet.") % {"name": name}
    low = min(known, key=lambda p: p[1])
    high = max(known, key=lambda p: p[1])
    avg = sum(v for _d, v in known) / len(known)
    return _(
        "%(name)s on %(n)s of %(days)s days. Average %(avg)s out of 10; lowest %(low)s on %(low_day)s; "
        "highest %(high)s on %(high_day)s. The first value was %(first)s and the last was %(last)s."
    ) % {
        "name": name,
        "n": len(known),
        "days": len(points),
        "avg": _fmt(avg),
        "low": _fmt(low[1]),
        "low_day": short_date(low[0]),
        "high": _fmt(high[1]),
        "high_day": short_date(high[0]),
        "first": _fmt(known[0][1]),
        "last": _fmt(known[-1][1]),
    }


def line_chart(
    points: Sequence[tuple[date, float | None]],
    *,
    chart_id: str,
    title: str,
    description: str,
    series: str,
    y_max: int = 10,
) -> Markup:
    """A 0..y_max line chart with one point per day; gaps (no value) break the line."""
    n = len(points)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / y_max)

    parts: list[str] = [
        f'<svg class="chart chart-{escape(series)}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for tick in (0, y_max // 2, y_max):
        ty = y(tick)
        parts.append(f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>')
        parts.append(f'<text class="chart-label" x="{LEFT - 8}" y="{ty + 5:.1f}" text-anchor="end">{tick}</text>')
    if n:
        label_at = sorted({0, n // 2, n - 1})
        for i in label_at:
            anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
            parts.append(
                f'<text class="chart-label" x="{x(i):.1f}" y="{HEIGHT - 10}" text-anchor="{anchor}">'
                f"{escape(short_date(points[i][0]))}</text>"
            )
    # Consecutive known values form one segment; a missing day starts a new one.
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, (_day, value) in enumerate(points):
        if value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{x(i):.1f},{y(value):.1f}")
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            parts.append(f'<polyline class="chart-line" points="{" ".join(seg)}"/>')
    radius = 3.5 if n <= 31 else 1.8
    for i, (day, value) in enumerate(points):
        if value is None:
            continue
        cx, cy = x(i), y(value)
        label = escape(f"{short_date(day)}: {_fmt(value)}")
        if series == "craving":
            side = radius * 1.8
            shape = (
                f'<rect class="chart-point" x="{cx - side / 2:.1f}" y="{cy - side / 2:.1f}" '
                f'width="{side:.1f}" height="{side:.1f}">'
            )
            parts.append(f"{shape}<title>{label}</title></rect>")
        else:
            parts.append(
                f'<circle class="chart-point" cx="{cx:.1f}" cy="{cy:.1f}" r="{radius}"><title>{label}</title></circle>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_pair(used: int, not_used: int, missing: int, *, chart_id: str, title: str, description: str) -> Markup:
    """One stacked bar: days not used, days used, days without a check-in (each labelled with its number)."""
    total = max(1, used + not_used + missing)
    width = WIDTH - 2
    parts = [
        f'<svg class="chart chart-days" viewBox="0 0 {WIDTH} 56" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    x = 1.0
    for count, cls in ((not_used, "bar-not-used"), (used, "bar-used"), (missing, "bar-missing")):
        if count <= 0:
            continue
        w = width * count / total
        parts.append(f'<rect class="{cls}" x="{x:.1f}" y="4" width="{w:.1f}" height="48" rx="4"/>')
        if w >= 28:
            parts.append(
                f'<text class="bar-text {cls}-text" x="{x + w / 2:.1f}" y="34" text-anchor="middle">{count}</text>'
            )
        x += w
    parts.append("</svg>")
    return Markup("".join(parts))


# Dates in words, in the reader's language (cached: Babel is slow to call hundreds of times per page).
@lru_cache(maxsize=4096)
def _formatted(value: date | datetime, pattern: str, locale: str) -> str:
    if isinstance(value, datetime):
        # Date and short time (no seconds), each in the locale's own order.
        return f"{format_date(value, pattern, locale=locale)}, {format_time(value, 'short', locale=locale)}"
    return format_date(value, pattern, locale=locale)


def long_date(day: date) -> str:
    """'Monday, November 23, 2026' (or the reader's language)."""
    return _formatted(day, "full", current_locale.get())


def weekday_short(day: date) -> str:
    return _formatted(day, "EEE", current_locale.get())


def month_title(day: date) -> str:
    return _formatted(day, "LLLL y", current_locale.get())


def date_time(moment: datetime) -> str:
    """A local date and time, short: 'Nov 23, 2026, 8:30 PM'."""
    return _formatted(moment, "medium", current_locale.get())


def weekday_names() -> list[str]:
    """Monday-first short weekday names for calendar headings."""
    monday = date(2024, 1, 1)
    return [weekday_short(monday + timedelta(days=i)) for i in range(7)]


FORMATS = {
    "short_date": short_date,
    "long_date": long_date,
    "weekday_short": weekday_short,
    "month_title": month_title,
    "date_time": date_time,
    "weekday_names": weekday_names,
}
