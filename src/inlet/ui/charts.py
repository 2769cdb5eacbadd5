"""A function's charts as inline SVG drawn on the server: runs by status, success rate
and durations over time. Pure: buckets in, markup out; no script, no library, and the
numbers are also in each shape's ``<title>`` for a screen reader or a hover."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

from markupsafe import Markup, escape

from inlet.model import RunStatus
from inlet.store.queries import Bucket
from inlet.ui.views import duration

WIDTH: Final = 340
HEIGHT: Final = 140
LEFT: Final = 44
RIGHT: Final = 10
TOP: Final = 12
BOTTOM: Final = 24
PLOT_W: Final = WIDTH - LEFT - RIGHT
PLOT_H: Final = HEIGHT - TOP - BOTTOM
STACK: Final = (
    (RunStatus.COMPLETED, "c-ok"),
    (RunStatus.FAILED, "c-fail"),
    (RunStatus.CANCELLED, "c-cancel"),
    (RunStatus.RUNNING, "c-run"),
    (RunStatus.QUEUED, "c-queue"),
)


def _label(ts: float, width: float) -> str:
    at = datetime.fromtimestamp(ts, UTC)
    return at.strftime("%H:%M") if width < 6 * 3600 else at.strftime("%b %d %H:%M")


def _frame(buckets: Sequence[Bucket], width: float, top: str, body: str, name: str) -> Markup:
    """The axes, gridlines and time labels around ``body``; ``top`` labels the y maximum."""
    grid = "".join(
        f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        for y in (TOP, TOP + PLOT_H / 2, TOP + PLOT_H)
    )
    ticks = ""
    if buckets:
        picks = sorted({0, len(buckets) // 2, len(buckets) - 1})
        for i in picks:
            x = LEFT + (i + 0.5) * PLOT_W / len(buckets)
            anchor = "start" if i == 0 else "end" if i == len(buckets) - 1 else "middle"
            if len(buckets) == 1:
                anchor = "middle"
            ticks += (
                f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}">'
                f"{escape(_label(buckets[i].start, width))}</text>"
            )
    axis = (
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{escape(top)}</text>'
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + PLOT_H + 4}" text-anchor="end">0</text>'
    )
    if not body:
        axis = (
            f'<text class="none" x="{LEFT + PLOT_W / 2:.1f}" y="{TOP + PLOT_H / 2 + 4:.1f}" '
            'text-anchor="middle">no runs in this window</text>'
        )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(name)}">'
        f"{grid}{axis}{body}{ticks}</svg>"
    )


def runs_chart(buckets: Sequence[Bucket], width: float) -> Markup:
    """Stacked bars: each bucket's runs by status."""
    totals = [sum(b.counts.values()) for b in buckets]
    peak = max(totals, default=0) or 1
    slot = PLOT_W / max(len(buckets), 1)
    bar = max(slot * 0.7, 1.0)
    body = ""
    for i, b in enumerate(buckets):
        x = LEFT + i * slot + (slot - bar) / 2
        y = float(TOP + PLOT_H)
        parts = []
        for status, css in STACK:
            n = b.counts.get(status, 0)
            if not n:
                continue
            h = n / peak * PLOT_H
            y -= h
            parts.append(f"{n} {status.value.lower()}")
            body += (
                f'<rect class="{css}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}"><title>{escape(_label(b.start, width))}: '
                f"{n} {status.value.lower()}</title></rect>"
            )
    return _frame(buckets, width, str(peak if any(totals) else 0), body, "Runs by status")


def _line(
    buckets: Sequence[Bucket],
    value: Callable[[Bucket], float | None],
    peak: float,
    css: str,
    show: Callable[[float], str],
    width: float,
) -> str:
    """A line through the buckets that have a value (a gap where one has none), with a dot
    at each point."""
    slot = PLOT_W / max(len(buckets), 1)
    segments: list[list[tuple[float, float]]] = [[]]
    dots = ""
    for i, b in enumerate(buckets):
        v = value(b)
        if v is None:
            segments.append([])
            continue
        x = LEFT + (i + 0.5) * slot
        y = TOP + PLOT_H - min(v / peak, 1.0) * PLOT_H
        segments[-1].append((x, y))
        dots += (
            f'<circle class="{css}" cx="{x:.1f}" cy="{y:.1f}" r="2.6">'
            f"<title>{escape(_label(b.start, width))}: {escape(show(v))}</title></circle>"
        )
    lines = "".join(
        f'<polyline class="{css}" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in seg)}"/>'
        for seg in segments
        if len(seg) > 1
    )
    return lines + dots


def rate_chart(buckets: Sequence[Bucket], width: float) -> Markup:
    """The success rate (completed of completed and failed) per bucket, 0 to 100%."""
    body = _line(buckets, lambda b: b.success_rate, 1.0, "l-ok", _percent, width)
    return _frame(buckets, width, "100%", body, "Success rate")


def duration_chart(buckets: Sequence[Bucket], width: float) -> Markup:
    """p50 and p95 of the durations of the runs that ended, per bucket."""
    peak = max((b.p95 or b.p50 or 0.0 for b in buckets), default=0.0)
    body = _line(buckets, lambda b: b.p95, peak or 1.0, "l-p95", duration, width)
    body += _line(buckets, lambda b: b.p50, peak or 1.0, "l-p50", duration, width)
    return _frame(buckets, width, duration(peak) if peak else "0", body, "Duration p50 and p95")


def _percent(v: float) -> str:
    return f"{v * 100:.0f}%"
