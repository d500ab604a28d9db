"""Bar charts drawn on the server as inline SVG (no JavaScript), for pages and PDFs alike.

Each row is a label and its figure above its bar, so the drawing stays narrow (360 units) and
its text readable on a 390 px phone; the element is sized in rem, so 大字 mode draws it larger. A
chart is never the only copy of its figures: every page shows the same rows as a table and a CSV.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 360
ROW = 54  # room for 18-unit text in 大字 mode (ltc.css) above a bar
TOP = 8
BAR_COLOUR = "#0b5394"
MARKED_COLOUR = "#b3261e"
REFERENCE_COLOUR = "#333"


@dataclass(frozen=True)
class Bar:
    label: str
    value: int  # in the chart's own unit (days, fen, people, ‰ …), never negative
    text: str  # how the value is written beside the bar
    reference: int | None = None  # a mark across the bar: the budget, the peers' figure
    marked: bool = False  # drawn in red: over budget, far from the peers


def bar_chart(title: str, bars: Sequence[Bar], *, reference_label: str = "") -> str:
    """An accessible `<svg>` of horizontal bars scaled to the largest value or reference;
    `reference_label` names the marks in a legend line when any bar has one."""
    legend = reference_label and any(b.reference is not None for b in bars)
    top = TOP + (26 if legend else 0)
    height = top + ROW * max(len(bars), 1)
    largest = max([b.value for b in bars] + [b.reference or 0 for b in bars] + [1])
    scale = (WIDTH - 4) / largest
    parts = [f'<svg class="chart" role="img" style="width:100%;max-width:30rem" '
             f'viewBox="0 0 {WIDTH} {height}" '
             f'xmlns="http://www.w3.org/2000/svg" font-size="14">'
             f"<title>{escape(title)}（数据见下表）</title>"]
    if legend:
        parts.append(f'<line x1="2" y1="{TOP + 6}" x2="2" y2="{TOP + 20}" '
                     f'stroke="{REFERENCE_COLOUR}" stroke-width="3"/>'
                     f'<text x="10" y="{TOP + 19}">{escape(reference_label)}</text>')
    if not bars:
        parts.append(f'<text x="0" y="{top + 20}">暂无数据</text>')
    for i, bar in enumerate(bars):
        y = top + ROW * i
        width = round(bar.value * scale)
        colour = MARKED_COLOUR if bar.marked else BAR_COLOUR
        # The figure goes on the label's line, never beside the bar, where a long bar or a
        # reference mark would cover or clip it.
        parts.append(f'<text x="0" y="{y + 19}">{escape(bar.label)}　'
                     f'<tspan font-weight="bold">{escape(bar.text)}</tspan></text>'
                     f'<rect x="0" y="{y + 26}" width="{max(width, 1)}" height="20" '
                     f'fill="{colour}"><title>{escape(bar.label)} {escape(bar.text)}</title>'
                     f'</rect>')
        if bar.reference is not None:
            x = round(bar.reference * scale)
            parts.append(f'<line x1="{x}" y1="{y + 23}" x2="{x}" y2="{y + 49}" '
                         f'stroke="{REFERENCE_COLOUR}" stroke-width="3"/>')
    parts.append("</svg>")
    return "".join(parts)
