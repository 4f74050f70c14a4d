"""Geometry of the KPI page's inline SVG charts (the template draws the elements)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from butler_maint.site.views import RESULTS, Tally

WIDTH = 760
HEIGHT = 220
LEFT = 44
RIGHT = 8
TOP = 10
BOTTOM = 34
MAX_BARS = 90
"""At most this many days are drawn (the most recent)."""
MAX_BAR_WIDTH = 40.0


@dataclass(frozen=True)
class Bar:
    """One bar: position, size, the tooltip text and an optional x-axis label."""

    x: float
    y: float
    width: float
    height: float
    css: str
    title: str
    label: str = ""


@dataclass(frozen=True)
class Tick:
    """A horizontal grid line with its label."""

    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    """A bar chart: its bars, grid and size."""

    width: int
    height: int
    left: int
    plot_right: int
    bars: list[Bar]
    ticks: list[Tick]


def _ticks() -> list[Tick]:
    plot = HEIGHT - TOP - BOTTOM
    return [Tick(round(TOP + plot * (1 - f), 1), f"{int(f * 100)}%") for f in (0, 0.5, 1)]


def pass_rate_chart(days: Sequence[Tally]) -> Chart:
    """Daily pass rate (share of runs that passed) as bars, oldest day on the left."""
    shown = list(days)[-MAX_BARS:]
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(shown))
    every = max(1, len(shown) // 8)
    bars = []
    for n, day in enumerate(shown):
        rate = day.rate or 0.0
        height = max(1.0, plot_h * rate)
        css = "pass" if rate >= 1 else "fail" if rate < 0.5 else "warn"
        counts = ", ".join(f"{r} {day.counts[r]}" for r in RESULTS if day.counts.get(r))
        width = min(MAX_BAR_WIDTH, max(1.0, step * 0.8))
        bars.append(
            Bar(
                x=round(LEFT + n * step + (step - width) / 2, 1),
                y=round(TOP + plot_h - height, 1),
                width=round(width, 1),
                height=round(height, 1),
                css=css,
                title=f"{day.label}: {rate:.0%} passed ({counts})",
                label=day.label[5:] if n % every == 0 or n == len(shown) - 1 else "",
            )
        )
    return Chart(WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, bars, _ticks())


@dataclass(frozen=True)
class Segment:
    """A piece of a stacked horizontal bar (percent of the row)."""

    x: float
    width: float
    css: str
    title: str


def stacked(tally: Tally, width: int = 240) -> list[Segment]:
    """One schedule's runs per result as a stacked bar ``width`` wide."""
    segments, x = [], 0.0
    for result in RESULTS:
        count = tally.counts.get(result, 0)
        if count and tally.total:
            w = width * count / tally.total
            segments.append(Segment(round(x, 2), round(w, 2), result, f"{result}: {count}"))
            x += w
    return segments
