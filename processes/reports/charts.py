"""Server-side SVG charts: no JavaScript, no CDN, print as crisply as the text around them."""

from __future__ import annotations

from html import escape
from typing import Any

from markupsafe import Markup

BAR = "#2f6fb0"
GRID = "#d0d7de"
TEXT = "#24292f"


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def hbar_chart(items: list[tuple[str, float]], title: str, unit: str = "", width: int = 720) -> Markup:
    """Horizontal bars (one per labelled value): for per-node times, where labels are long."""
    if not items:
        return Markup("")
    row, label_w, top = 24, 260, 28
    height = top + row * len(items) + 10
    peak = max((v for _, v in items), default=0) or 1
    span = width - label_w - 90
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<text x="0" y="16" font-size="14" font-weight="bold" fill="{TEXT}">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = max(1.0, span * (value / peak))
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" text-anchor="end" fill="{TEXT}">'
            f"{escape(label[:24])}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{BAR}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12" fill="{TEXT}">'
            f"{_fmt(value)}{escape(unit)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(items: list[tuple[str, float]], title: str, unit: str = "", width: int = 720) -> Markup:
    """Vertical columns over time (monthly trends), with a light grid and the value atop each column."""
    if not items:
        return Markup("")
    height, left, bottom, top = 240, 56, 40, 30
    plot_h = height - top - bottom
    peak = max((v for _, v in items), default=0) or 1
    step = (width - left - 10) / len(items)
    bar_w = max(2.0, step * 0.6)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<text x="0" y="16" font-size="14" font-weight="bold" fill="{TEXT}">{escape(title)}</text>',
    ]
    for k in range(5):
        y = top + plot_h * k / 4
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="{TEXT}">'
            f"{_fmt(peak * (4 - k) / 4)}</text>"
        )
    label_every = max(1, len(items) // 12)
    for i, (label, value) in enumerate(items):
        h = plot_h * (value / peak)
        x = left + i * step + (step - bar_w) / 2
        y = top + plot_h - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{BAR}">')
        parts.append(f"<title>{escape(label)}: {_fmt(value)}{escape(unit)}</title></rect>")
        if len(items) <= 24:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" font-size="10" text-anchor="middle" fill="{TEXT}">'
                f"{_fmt(value)}</text>"
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 14}" font-size="10" text-anchor="middle" '
                f'fill="{TEXT}">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def charts_for(report: dict[str, Any]) -> list[Markup]:
    """The charts a report asks for (node times as bars, monthly series as columns)."""
    out = []
    if report.get("chart_nodes"):
        out.append(hbar_chart(report["chart_nodes"], "居住证申领各环节平均处理时长", " 小时"))
    if report.get("chart_months"):
        out.append(column_chart(report["chart_months"], report.get("chart_title") or f"{report['title']}·趋势"))
    return out
