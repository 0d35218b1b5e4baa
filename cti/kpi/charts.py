"""Inline SVG charts for the KPI page: lines and bars over the groups, the funnel as a waterfall,
and the three-ring heat map (weekday x hour). No scripts, no network: the page prints and mails
as it is. Every text goes through ``escape``; a chart with nothing to draw is never drawn (the
page says "no data" instead, ``cti.kpi.html``).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

WIDTH, HEIGHT, PAD = 1000, 240, 44
COLORS = ("#2563eb", "#16a34a", "#dc2626", "#9333ea")
GRID = "#e5e7eb"
NO_CALLS = "#f3f4f6"


def _x(index: int, count: int) -> float:
    return PAD + (WIDTH - 2 * PAD) * (index + 0.5) / max(count, 1)


def _y(fraction: float) -> float:
    return HEIGHT - PAD - (HEIGHT - 2 * PAD) * fraction


def el(tag: str, text: str | None = None, /, **attrs: object) -> str:
    """One SVG element; attribute names use '_' for '-' (font_size -> font-size)."""
    rendered = " ".join(
        f'{k.rstrip("_").replace("_", "-")}="{v:.1f}"'
        if isinstance(v, float)
        else f'{k.rstrip("_").replace("_", "-")}="{escape(str(v))}"'
        for k, v in attrs.items()
    )
    return f"<{tag} {rendered}/>" if text is None else f"<{tag} {rendered}>{escape(text)}</{tag}>"


def svg(parts: Sequence[str], width: int = WIDTH, height: int = HEIGHT) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img">{"".join(parts)}</svg>'
    )


def _label(i: int, count: int, text: str) -> str:
    return el(
        "text", text, x=_x(i, count), y=HEIGHT - PAD + 16, text_anchor="middle", font_size=11, fill="#6b7280"
    )


def _axes(labels: list[str], target: float | None = None, scale: float = 1.0) -> list[str]:
    """Grid lines at 0, half and full height, labelled as shares of ``scale`` (1: 0-100 %)."""
    parts = [el("line", x1=PAD, y1=_y(t), x2=WIDTH - PAD, y2=_y(t), stroke=GRID) for t in (0.5, 1)]
    parts.append(el("line", x1=PAD, y1=_y(0), x2=WIDTH - PAD, y2=_y(0), stroke="#9ca3af"))
    parts += [
        el(
            "text",
            f"{t * scale:.0%}",
            x=PAD - 6,
            y=_y(t) + 4,
            text_anchor="end",
            font_size=11,
            fill="#6b7280",
        )
        for t in (0, 0.5, 1)
    ]
    if target is not None:
        parts.append(
            el(
                "line",
                x1=PAD,
                y1=_y(target),
                x2=WIDTH - PAD,
                y2=_y(target),
                stroke="#f59e0b",
                stroke_dasharray="5 4",
            )
        )
    step = max(1, len(labels) // 12)  # at most ~12 labels under the axis
    parts += [_label(i, len(labels), label) for i, label in enumerate(labels) if i % step == 0]
    return parts


def _bar(i: int, count: int, top: float, bottom: float, color: str, **extra: object) -> str:
    width = (WIDTH - 2 * PAD) / max(count, 1) * 0.7
    return el(
        "rect",
        x=_x(i, count) - width / 2,
        y=_y(top),
        width=width,
        height=_y(bottom) - _y(top),
        fill=color,
        **extra,
    )


def _legend(names: Sequence[str]) -> list[str]:
    parts: list[str] = []
    x = float(PAD)
    for n, name in enumerate(names):
        parts.append(el("rect", x=x, y=8.0, width=12, height=12, rx=2, fill=COLORS[n % len(COLORS)]))
        parts.append(el("text", name, x=x + 18, y=18.0, font_size=12, fill="#374151"))
        x += 40 + 7.5 * sum(2 if ord(c) > 0x2E80 else 1 for c in name)  # CJK characters are twice as wide
    return parts


def line_chart(labels: list[str], series: dict[str, list[float | None]], target: float | None = None) -> str:
    """Rates (0..1) over the groups, one line per series; gaps where a rate has no data; the
    target as a dashed line."""
    parts = [*_legend(list(series)), *_axes(labels, target)]
    for n, values in enumerate(series.values()):
        color = COLORS[n % len(COLORS)]
        points = [(_x(i, len(values)), _y(v)) for i, v in enumerate(values) if v is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(el("polyline", fill="none", stroke=color, stroke_width=2, points=path))
        parts += [el("circle", cx=x, cy=y, r=3, fill=color) for x, y in points]
    return svg(parts)


def bar_chart(labels: list[str], values: list[float | None], target: float | None = None) -> str:
    """Small rates (abandonment) as bars on a scale up to the largest of them and the target
    (at least 10 %), so 3 % and 6 % do not both look like nothing; red above the target (a
    ceiling), blue within it."""
    top = max([v for v in values if v is not None] + [target or 0, 0.1])
    parts = _axes(labels, None if target is None else target / top, scale=top)
    parts += [
        _bar(i, len(values), v / top, 0, "#ef4444" if target is not None and v > target else "#60a5fa")
        for i, v in enumerate(values)
        if v is not None
    ]
    return svg(parts)


def waterfall(funnel: list[dict[str, Any]], names: dict[str, str]) -> str:
    """Each stage's count as a bar, the drop from the stage before shaded red, counts on top."""
    top = max((stage["count"] for stage in funnel), default=0) or 1
    count = len(funnel)
    parts = [el("line", x1=PAD, y1=_y(0), x2=WIDTH - PAD, y2=_y(0), stroke="#9ca3af")]
    for i, stage in enumerate(funnel):
        kept = stage["count"] / top
        parts.append(_bar(i, count, kept, 0, "#2563eb"))
        if i and funnel[i - 1]["count"] > stage["count"]:
            parts.append(_bar(i, count, funnel[i - 1]["count"] / top, kept, "#dc2626", opacity=0.3))
        parts.append(
            el(
                "text",
                str(stage["count"]),
                x=_x(i, count),
                y=_y(kept) - 5,
                text_anchor="middle",
                font_size=12,
            )
        )
        parts.append(_label(i, count, names.get(stage["stage"], stage["stage"])))
    return svg(parts)


CELL_W, CELL_H, LEFT, TOP = 44, 30, 56, 22


def _heat_color(rate: float, target: float) -> str:
    """Green at or above the target, amber 10 points under it, red 25 points under or worse."""
    closeness = min(1.0, max(0.0, (rate - (target - 0.25)) / 0.25))
    return f"hsl({closeness * 130:.0f}, 68%, {60 - closeness * 16:.0f}%)"


def _heat_legend(target: float, y: float, no_calls: str) -> list[str]:
    parts: list[str] = []
    steps = [
        (target, f"≥ {target:.0%}"),
        (target - 0.1, f"{target - 0.1:.0%}"),
        (target - 0.25, f"≤ {target - 0.25:.0%}"),
    ]
    for n, (rate, label) in enumerate([*steps, (None, no_calls)]):
        x = LEFT + 110 * n
        fill = NO_CALLS if rate is None else _heat_color(rate, target)
        parts.append(el("rect", x=float(x), y=y, width=18, height=14, rx=3, fill=fill))
        parts.append(el("text", label, x=float(x + 24), y=y + 11, font_size=11, fill="#6b7280"))
    return parts


def _heat_cell(
    x: float, y: float, rate: float | None, calls: int, target: float, tip: str, no_data: str
) -> list[str]:
    """One hour of one weekday: coloured by its rate, labelled with it; a tooltip with the calls."""
    fill = NO_CALLS if rate is None else _heat_color(rate, target)
    title = no_data if rate is None else f"{tip}  {rate:.0%} ({calls})"
    cell = [
        f"<g><title>{escape(title)}</title>"
        + el("rect", x=x + 1.0, y=y + 1.0, width=CELL_W - 2, height=CELL_H - 2, rx=3, fill=fill)
        + "</g>"
    ]
    if rate is not None:
        label = f"{rate * 100:.0f}"
        cell.append(
            el("text", label, x=x + CELL_W / 2, y=y + CELL_H / 2 + 4, text_anchor="middle", font_size=11)
        )
    return cell


def heatmap(
    rates: list[list[float | None]],
    offered: list[list[int]],
    weekdays: Sequence[str],
    target: float,
    no_data: str,
) -> str:
    """7 rows (Monday first) x the hours that had calls; each cell coloured by its rate against
    the target and labelled with it, grey without calls; a tooltip gives the calls offered."""
    busy = [hour for hour in range(24) if any(offered[day][hour] for day in range(7))]
    hours = list(range(busy[0], busy[-1] + 1)) if busy else []
    parts = [
        el("text", f"{hour:02d}:00", x=LEFT + CELL_W * (i + 0.5), y=14.0, text_anchor="middle", font_size=11)
        for i, hour in enumerate(hours)
    ]
    for day, name in enumerate(weekdays):
        y = TOP + CELL_H * day
        parts.append(el("text", name, x=LEFT - 8, y=y + CELL_H / 2 + 4, text_anchor="end", font_size=12))
        for i, hour in enumerate(hours):
            tip = f"{name} {hour:02d}:00"
            parts += _heat_cell(
                LEFT + CELL_W * i, y, rates[day][hour], offered[day][hour], target, tip, no_data
            )
    parts += _heat_legend(target, TOP + CELL_H * 7 + 12, no_data)
    return svg(parts, max(LEFT + CELL_W * len(hours), LEFT + 440) + 4, TOP + CELL_H * 7 + 34)
