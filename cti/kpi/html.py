"""The KPI report as one self-contained HTML page with inline SVG charts (no scripts, no network).

What a manager reads at a glance: the three-ring rate and service level over the groups (a line
per KPI), abandonment, the lead funnel as a waterfall with the loss reasons, and the table per
agent. The page embeds the report's JSON for anyone who wants the numbers behind a chart.
"""

from __future__ import annotations

from html import escape
from typing import Any

from cti.kpi.render import TABLE_COLUMNS, cell, rows, to_json

WIDTH, HEIGHT, PAD = 720, 240, 40
COLORS = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd")
STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child{text-align:left}"
)


def _x(index: int, count: int) -> float:
    return PAD + (WIDTH - 2 * PAD) * (index + 0.5) / max(count, 1)


def _y(fraction: float) -> float:
    return HEIGHT - PAD - (HEIGHT - 2 * PAD) * fraction


def _el(tag: str, text: str | None = None, /, **attrs: object) -> str:
    """One SVG element; attribute names use '_' for '-' (font_size -> font-size)."""
    rendered = " ".join(
        f'{k.rstrip("_").replace("_", "-")}="{v:.1f}"'
        if isinstance(v, float)
        else f'{k.rstrip("_").replace("_", "-")}="{v}"'
        for k, v in attrs.items()
    )
    return f"<{tag} {rendered}/>" if text is None else f"<{tag} {rendered}>{escape(text)}</{tag}>"


def _title(text: str) -> str:
    return _el("text", text, x=PAD, y=16, font_weight="bold")


def _label(i: int, count: int, text: str) -> str:
    return _el("text", text, x=_x(i, count), y=HEIGHT - PAD + 14, text_anchor="middle", font_size=10)


def _axes(labels: list[str]) -> list[str]:
    parts = [_el("line", x1=PAD, y1=_y(0), x2=WIDTH - PAD, y2=_y(0), stroke="#999")]
    parts += [
        _el("text", f"{t:.0%}", x=PAD - 6, y=_y(t) + 4, text_anchor="end", font_size=10) for t in (0, 0.5, 1)
    ]
    step = max(1, len(labels) // 12)  # at most ~12 labels under the axis
    parts += [_label(i, len(labels), label) for i, label in enumerate(labels) if i % step == 0]
    return parts


def _bar(i: int, count: int, top: float, bottom: float, color: str, **extra: object) -> str:
    width = (WIDTH - 2 * PAD) / max(count, 1) * 0.7
    return _el(
        "rect",
        x=_x(i, count) - width / 2,
        y=_y(top),
        width=width,
        height=_y(bottom) - _y(top),
        fill=color,
        **extra,
    )


def line_chart(title: str, labels: list[str], series: dict[str, list[float | None]]) -> str:
    """Rates (0..1) over the groups, one line per series; gaps where a rate is undefined."""
    parts = [_title(title), *_axes(labels)]
    for n, (name, values) in enumerate(series.items()):
        color = COLORS[n % len(COLORS)]
        points = [(_x(i, len(values)), _y(v)) for i, v in enumerate(values) if v is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(_el("polyline", fill="none", stroke=color, stroke_width=2, points=path))
        parts += [_el("circle", cx=x, cy=y, r=3, fill=color) for x, y in points]
        parts.append(_el("text", name, x=WIDTH - PAD - 150, y=16 + 14 * n, fill=color, font_size=12))
    return _svg(parts)


def bar_chart(title: str, labels: list[str], values: list[float | None], color: str = "#d62728") -> str:
    parts = [_title(title), *_axes(labels)]
    parts += [_bar(i, len(values), v, 0, color) for i, v in enumerate(values) if v is not None]
    return _svg(parts)


def waterfall(funnel: list[dict[str, Any]]) -> str:
    """Each stage's count as a bar, the drop from the stage before shaded red, counts on top."""
    top = max((stage["count"] for stage in funnel), default=0) or 1
    count = len(funnel)
    parts = [_title("Lead funnel (waterfall)"), _axes([])[0]]
    for i, stage in enumerate(funnel):
        kept = stage["count"] / top
        parts.append(_bar(i, count, kept, 0, "#1f77b4"))
        if i and funnel[i - 1]["count"] > stage["count"]:
            parts.append(_bar(i, count, funnel[i - 1]["count"] / top, kept, "#d62728", opacity=0.35))
        parts.append(
            _el(
                "text",
                str(stage["count"]),
                x=_x(i, count),
                y=_y(kept) - 4,
                text_anchor="middle",
                font_size=11,
            )
        )
        parts.append(_label(i, count, stage["stage"].replace("_", " ")))
    return _svg(parts)


def _svg(parts: list[str]) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}">{"".join(parts)}</svg>'


def _table(title: str, table_rows: list[dict[str, Any]], first: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for _, h, _ in TABLE_COLUMNS)
    body = "".join(
        "<tr><td>"
        + escape(str(r["key"]))
        + "</td>"
        + "".join(f"<td>{cell(r.get(n), k)}</td>" for n, _, k in TABLE_COLUMNS)
        + "</tr>"
        for r in table_rows
    )
    return f"<h2>{escape(title)}</h2><table><tr><th>{escape(first)}</th>{head}</tr>{body}</table>"


def _losses(funnel: list[dict[str, Any]]) -> str:
    items = [
        f"<li>{escape(stage['stage'])}: "
        + ", ".join(f"{escape(reason)} {count}" for reason, count in stage["lost"].items())
        + "</li>"
        for stage in funnel
        if stage["lost"]
    ]
    return f"<ul>{''.join(items)}</ul>" if items else "<p>No loss reasons recorded.</p>"


def to_html(report: dict[str, Any], agents: list[dict[str, Any]] | None = None) -> str:
    groups = report["groups"] or [{"key": "overall", **report["overall"]}]
    labels = [str(g["key"]) for g in groups]
    period, config = report["period"], report["config"]
    charts = [
        line_chart(
            "Answered within three rings and service level",
            labels,
            {
                "three rings": [g["three_ring_rate"] for g in groups],
                "SL": [g["service_level"] for g in groups],
            },
        ),
        bar_chart("Abandonment", labels, [g["abandon_rate"] for g in groups]),
        waterfall(report["funnel"]),
    ]
    sections = [_table(f"By {report['by'] or 'period'}", rows(report), report["by"] or "")]
    if agents:
        sections.append(_table("Per agent", agents, "agent"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hotline-cti KPIs</title>
<style>{STYLE}</style>
</head><body>
<h1>KPIs {escape(str(period["from"] or "start"))} .. {escape(str(period["to"] or "now"))}</h1>
<p>Timezone {escape(period["timezone"])}; queue {escape(report["queue"] or "all")};
definitions {escape(report["definitions_version"])}; ring cycle {config["ring_cycle_s"]} s,
SL threshold {config["threshold_s"]} s, short abandons under {config["short_abandon_s"]} s excluded.</p>
{"".join(charts)}
<h2>Funnel losses</h2>{_losses(report["funnel"])}
{"".join(sections)}
<script type="application/json" id="report">{escape(to_json(report))}</script>
</body></html>
"""
