"""Bar charts drawn on the server as inline SVG (no JavaScript), for pages and PDFs alike.

Each row is a label above its bar, so the drawing stays narrow (360 units) and its text stays
readable on a 390 px phone; the element is sized in rem, so 大字 mode draws it larger. A chart
is never the only copy of its figures: every page shows the same rows as a table and a CSV.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 360
ROW = 46
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
    top = TOP + (22 if legend else 0)
    height = top + ROW * max(len(bars), 1)
    largest = max([b.value for b in bars] + [b.reference or 0 for b in bars] + [1])
    scale = (WIDTH - 110) / largest  # room for the widest figure text beside a full bar
    parts = [f'<svg class="chart" role="img" style="width:100%;max-width:30rem" '
             f'viewBox="0 0 {WIDTH} {height}" '
             f'xmlns="http://www.w3.org/2000/svg" font-size="14">'
             f"<title>{escape(title)}（数据见下表）</title>"]
    if legend:
        parts.append(f'<line x1="2" y1="{TOP + 6}" x2="2" y2="{TOP + 20}" '
                     f'stroke="{REFERENCE_COLOUR}" stroke-width="3"/>'
                     f'<text x="10" y="{TOP + 18}">{escape(reference_label)}</text>')
    if not bars:
        parts.append(f'<text x="0" y="{top + 20}">暂无数据</text>')
    for i, bar in enumerate(bars):
        y = top + ROW * i
        width = round(bar.value * scale)
        colour = MARKED_COLOUR if bar.marked else BAR_COLOUR
        parts.append(f'<text x="0" y="{y + 14}">{escape(bar.label)}</text>'
                     f'<rect x="0" y="{y + 20}" width="{max(width, 1)}" height="18" '
                     f'fill="{colour}"><title>{escape(bar.label)} {escape(bar.text)}</title>'
                     f'</rect><text x="{width + 6}" y="{y + 34}">{escape(bar.text)}</text>')
        if bar.reference is not None:
            x = round(bar.reference * scale)
            parts.append(f'<line x1="{x}" y1="{y + 16}" x2="{x}" y2="{y + 42}" '
                         f'stroke="{REFERENCE_COLOUR}" stroke-width="3"/>')
    parts.append("</svg>")
    return "".join(parts)
