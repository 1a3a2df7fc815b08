"""Bar charts of scans, drawn here as SVG (no chart library)."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from registry.clock import CHINA_TZ
from registry.reports.queries import ReportCard


def _nice_ceiling(peak: int) -> int:
    """The smallest of 2, 4, 6, 8, 10, 20, 40, 60, ... at or above ``peak``: its half is a
    whole number, so the middle gridline gets an honest label."""
    scale = 1
    while True:
        for step in (2, 4, 6, 8, 10):
            if peak <= step * scale:
                return step * scale
        scale *= 10


def bar_chart(
    points: list[tuple[str, int]], title: str, label_every: int, testid: str = "chart"
) -> Markup:
    """An SVG bar chart of ``points`` (label, value): self-drawn, scales to its container,
    presentation attributes only (the pages' CSP allows no inline styles)."""
    width, height = 400, 220
    left, bottom, top = 34, 26, 12
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max((v for _, v in points), default=0)
    scale_max = _nice_ceiling(peak)
    slot = plot_w / max(len(points), 1)
    bar_w = max(slot * 0.72, 1)
    parts = [
        f'<svg class="chart" data-testid="{escape(testid)}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        # gridlines at 0, half and the peak
    ]
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        value = round(scale_max * fraction)
        parts.append(
            f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d1d9e0" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#59636e">{value}</text>'
        )
    for i, (label, value) in enumerate(points):
        x = left + i * slot + (slot - bar_w) / 2
        bar_h = plot_h * value / scale_max
        y = top + plot_h - bar_h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
            f'height="{max(bar_h, 0):.1f}" rx="1.5" fill="#1a7f37" data-value="{value}">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                f'font-size="12" fill="#59636e">{escape(label)}</text>'
            )
    parts.append("</svg>")
    # Every text in the parts went through html.escape; the rest are numbers we formatted.
    return Markup("".join(parts))  # noqa: S704


def hourly_chart(card: ReportCard, title: str) -> Markup:
    points = [(h.astimezone(CHINA_TZ).strftime("%H:00"), v) for h, v in card.hourly]
    return bar_chart(points, title, label_every=6, testid="chart-hourly")


def daily_chart(card: ReportCard, title: str) -> Markup:
    points = [(d.strftime("%m-%d"), v) for d, v in card.daily]
    return bar_chart(points, title, label_every=5, testid="chart-daily")
