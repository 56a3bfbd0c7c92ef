"""Sparklines for the dashboard: tiny inline SVGs, named and summed up in words for screen readers.

The full-size charts on a patient's page are the patient's own (`server.checkins.charts.line_chart`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import lru_cache

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
    return _sparkline(tuple(points), chart_id, title, name, series, y_max)


# Remembered by its arguments (the drawing is a function of them alone): a dashboard draws two hundred, and the same
# ones at most reloads (patients check in once a day). ~1 KiB each.
@lru_cache(maxsize=4096)
def _sparkline(
    points: tuple[tuple[date, float | None], ...], chart_id: str, title: str, name: str, series: str, y_max: int
) -> Markup:
    xs = _xs(len(points))
    desc = describe(points, name)
    middle = _y(y_max / 2, y_max)
    parts = [
        f'<svg class="sparkline chart-{escape(series)}" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" focusable="false">',
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>',
        f'<line class="chart-grid" x1="{PAD}" x2="{W - PAD}" y1="{middle}" y2="{middle}"/>',
    ]
    segment: list[str] = []
    last = ""
    for x, known, (_day, value) in zip(xs, _points(len(points), y_max), points, strict=True):
        if value is None:
            if len(segment) > 1:
                parts.append(f'<polyline class="chart-line" points="{" ".join(segment)}"/>')
            segment = []
            continue
        last = known.get(value) or f"{x},{_y(value, y_max)}"
        segment.append(last)
    if len(segment) > 1:
        parts.append(f'<polyline class="chart-line" points="{" ".join(segment)}"/>')
    if last:
        cx, cy = last.split(",")
        parts.append(f'<circle class="chart-point" cx="{cx}" cy="{cy}" r="2.5"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


# A dashboard draws two sparklines per patient, all of the same length over the same 0..10 values: the
# coordinates are formatted once.
@lru_cache(maxsize=64)
def _xs(n: int) -> tuple[str, ...]:
    if n == 1:
        return (f"{PAD + (W - 2 * PAD) / 2:.1f}",)
    return tuple(f"{PAD + (W - 2 * PAD) * i / (n - 1):.1f}" for i in range(n))


@lru_cache(maxsize=64)
def _points(n: int, y_max: int) -> tuple[dict[float, str], ...]:
    """For each of n positions, its "x,y" for every whole value 0..y_max (the scales' values; any other value is
    formatted as it comes)."""
    return tuple({v: f"{x},{_y(v, y_max)}" for v in range(y_max + 1)} for x in _xs(n))


@lru_cache(maxsize=512)
def _y(value: float, y_max: int) -> str:
    return f"{PAD + (H - 2 * PAD) * (1 - value / y_max):.1f}"
