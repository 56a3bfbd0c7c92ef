"""Sparklines for the dashboard: tiny inline SVGs, named and summed up in words for screen readers.

The full-size charts on a patient's page are the patient's own (`server.checkins.charts.line_chart`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

from server.i18n import gettext as _

W, H, PAD = 120, 32, 3


def _fmt(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def describe(points: Sequence[tuple[date, float | None]], name: str) -> str:
    """The line in words (no dates: a sparkline is about the shape, and this runs for every row)."""
    known = [v for _d, v in points if v is not None]
    if not known:
        return _("%(name)s: no values in these days.") % {"name": name}
    return _(
        "%(name)s on %(n)s of %(days)s days: average %(avg)s out of 10, lowest %(low)s, highest %(high)s, "
        "latest %(last)s."
    ) % {
        "name": name,
        "n": len(known),
        "days": len(points),
        "avg": _fmt(sum(known) / len(known)),
        "low": _fmt(min(known)),
        "high": _fmt(max(known)),
        "last": _fmt(known[-1]),
    }


def sparkline(
    points: Sequence[tuple[date, float | None]], *, chart_id: str, title: str, name: str, series: str, y_max: int = 10
) -> Markup:
    """A 0..y_max line over the days given; missing days break the line; the last value gets a dot.
    `title` names the chart ("Mood, last 4 weeks"); `name` is the measure its description talks about ("Mood")."""
    n = len(points)
    desc = describe(points, name)

    def x(i: int) -> float:
        return PAD + ((W - 2 * PAD) * i / (n - 1) if n > 1 else (W - 2 * PAD) / 2)

    def y(v: float) -> float:
        return PAD + (H - 2 * PAD) * (1 - v / y_max)

    parts = [
        f'<svg class="sparkline chart-{escape(series)}" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" focusable="false">',
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>',
        f'<line class="chart-grid" x1="{PAD}" x2="{W - PAD}" y1="{y(y_max / 2):.1f}" y2="{y(y_max / 2):.1f}"/>',
    ]
    segment: list[str] = []
    for i, (_day, value) in enumerate([*points, (date.min, None)]):
        if value is None:
            if len(segment) > 1:
                parts.append(f'<polyline class="chart-line" points="{" ".join(segment)}"/>')
            segment = []
            continue
        segment.append(f"{x(i):.1f},{y(value):.1f}")
    last = next(((i, v) for i, (_d, v) in reversed(list(enumerate(points))) if v is not None), None)
    if last is not None:
        parts.append(f'<circle class="chart-point" cx="{x(last[0]):.1f}" cy="{y(last[1]):.1f}" r="2.5"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
