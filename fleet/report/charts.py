"""Small inline SVG charts for the HTML report.

Each chart is a pure function returning one ``<svg>`` string with a fixed viewBox and no
width or height of its own, so CSS (``width: 100%``) scales it to a phone or a wall screen
and the text inside scales with it. Colours are presentation attributes so the page's CSS
can still override them (print, dark mode); text uses ``currentColor`` to follow the page.
Every label is escaped: site names come from user inventories.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

# Tones shared with the page's CSS: red = an emergency check fails, amber = unverified.
TONES = {"bad": "#b3261e", "warn": "#b26a00", "good": "#1b6e3a", "muted": "#6b6b6b"}


def _open(width: int, height: int, title: str, desc: str) -> tuple[str, str]:
    # Ids from the title, not a counter, keep the functions pure; titles differ per chart.
    n = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "chart"
    tid, did = f"chart-{n}-title", f"chart-{n}-desc"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{tid} {did}" class="chart" '
        f'preserveAspectRatio="xMinYMin meet" font-family="system-ui, sans-serif">'
        f'<title id="{tid}">{escape(title)}</title><desc id="{did}">{escape(desc)}</desc>'
    ), "</svg>"


def bar_chart(
    bars: Sequence[tuple[str, float, str]],
    *,
    title: str = "Compliance by site",
    width: int = 360,
) -> str:
    """Horizontal bars, one per ``(label, share 0..1, tone)``; tone is a key of TONES.

    Horizontal so that long site names stay readable on a narrow phone screen.
    """
    row, top, label_w, value_w = 22, 6, 96, 44
    height = top * 2 + row * max(len(bars), 1)
    plot = width - label_w - value_w
    desc = "; ".join(f"{name}: {share:.0%}" for name, share, _ in bars) or "no sites"
    head, tail = _open(width, height, title, desc)
    parts = [head]
    # The 100% line: a bar that stops short of it is visible even when the bar is pale.
    x100 = label_w + plot
    parts.append(
        f'<line x1="{x100}" y1="{top - 2}" x2="{x100}" y2="{height - top + 2}" '
        f'stroke="currentColor" stroke-opacity="0.35" stroke-dasharray="2 2"/>'
    )
    for i, (name, share, tone) in enumerate(bars):
        share = min(max(share, 0.0), 1.0)
        y = top + i * row
        colour = TONES.get(tone, TONES["muted"])
        short = name if len(name) <= 14 else name[:13] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + row / 2 + 4:.1f}" text-anchor="end" '
            f'font-size="12" fill="currentColor">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{plot}" height="{row - 8}" '
            f'fill="currentColor" fill-opacity="0.08"/>'
            f'<rect x="{label_w}" y="{y + 4}" width="{plot * share:.1f}" height="{row - 8}" '
            f'fill="{colour}"><title>{escape(name)}: {share:.1%}</title></rect>'
            f'<text x="{width - 4}" y="{y + row / 2 + 4:.1f}" text-anchor="end" '
            f'font-size="12" font-weight="600" fill="currentColor">{pct(share)}</text>'
        )
    parts.append(tail)
    return "".join(parts)


def pct(share: float) -> str:
    """A share as a whole percentage; 99.96% prints as 99%: one failing device in a big site
    must not read as all proven."""
    if share < 1.0 and round(share * 100) == 100:
        return "99%"
    return f"{share:.0%}"


def trend_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int], str]],
    *,
    title: str = "Trend over the last snapshots",
    width: int = 360,
    height: int = 150,
) -> str:
    """Lines over snapshots: ``labels`` name the x positions (oldest first); each series is
    ``(name, values, tone)`` with one value per label. The y axis starts at zero so a small
    rise is not drawn as a cliff."""
    left, right, top, bottom = 30, 10, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(labels)
    peak = max([v for _, vals, _ in series for v in vals] + [1])
    ymax = _nice(peak)
    desc = (
        "; ".join(
            f"{name}: " + ", ".join(f"{lab} {v}" for lab, v in zip(labels, vals, strict=False))
            for name, vals, _ in series
        )
        or "no snapshots"
    )
    head, tail = _open(width, height, title, desc)
    parts = [head]

    inset = 10  # keeps the first point's label clear of the y axis labels

    def x(i: int) -> float:
        span = plot_w - 2 * inset
        return left + inset + (span / 2 if n == 1 else span * i / (n - 1))

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / ymax

    for tick in (0, ymax // 2, ymax):
        parts.append(
            f'<line x1="{left}" y1="{y(tick):.1f}" x2="{width - right}" y2="{y(tick):.1f}" '
            f'stroke="currentColor" stroke-opacity="0.15"/>'
            f'<text x="{left - 4}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="10" '
            f'fill="currentColor">{tick}</text>'
        )
    # Label at most ~6 snapshots on the x axis; more would overlap at phone width.
    step = max(1, -(-n // 6))
    for i, lab in enumerate(labels):
        if i % step == 0 or i == n - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - bottom + 14}" text-anchor="middle" '
                f'font-size="10" fill="currentColor">{escape(lab)}</text>'
            )
    legend_x = left
    for name, vals, tone in series:
        colour = TONES.get(tone, TONES["muted"])
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(vals))
        if len(vals) > 1:
            parts.append(
                f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2" '
                f'stroke-linejoin="round"/>'
            )
        for i, v in enumerate(vals):
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)}, {escape(labels[i])}: {v}</title></circle>"
            )
        parts.append(
            f'<rect x="{legend_x}" y="{height - 11}" width="10" height="3" fill="{colour}"/>'
            f'<text x="{legend_x + 14}" y="{height - 6}" font-size="10" '
            f'fill="currentColor">{escape(name)}</text>'
        )
        legend_x += 20 + 6 * len(name)
    parts.append(tail)
    return "".join(parts)


def _nice(v: int) -> int:
    """The smallest even round number at or above ``v``, so the axis has clean ticks."""
    for base in (2, 4, 6, 10, 20, 40, 60, 100, 200, 400, 600, 1000, 2000, 4000, 6000, 10000):
        if v <= base:
            return base
    return int(-(-v // 10000) * 10000)
