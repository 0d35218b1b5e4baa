"""The KPI report as one self-contained HTML page a manager reads at a glance (no scripts run,
no network: it prints and mails as it is).

From the top: the headline KPIs against the center's targets (``cti.kpi.targets``), the
three-ring heat map by weekday x hour (where to add staff), the trend over the groups, leads and
queue callbacks per source with the funnel, then the tables. A part with nothing to measure is
greyed with "no data", never drawn as an empty chart or a 0 %. Every text is escaped; the
report's JSON is embedded for anyone who wants the numbers, escaped for a ``<script>`` element
(``script_json``). Words in Chinese or English (``cti.kpi.i18n``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from html import escape
from typing import Any

from cti.kpi import charts
from cti.kpi.i18n import column_header, group_word, words
from cti.kpi.render import TABLE_COLUMNS, cell, rows
from cti.kpi.targets import Headline, Status, Targets, headlines

STYLE = """
:root{--ink:#111827;--muted:#6b7280;--line:#e5e7eb;--ok:#15803d;--bad:#b91c1c;--none:#9ca3af}
body{font-family:"Noto Sans CJK SC","Noto Sans SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif;
color:var(--ink);margin:0;background:#f9fafb}
main{max-width:1080px;margin:0 auto;padding:28px 32px 40px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:17px;margin:0 0 12px}
.sub{color:var(--muted);margin:0 0 22px}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin:0 0 18px}
section.empty{background:#f3f4f6;color:var(--none)}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:14px}
.card{border:1px solid var(--line);border-radius:10px;padding:14px 16px;border-top:5px solid var(--none)}
.card.met{border-top-color:var(--ok)}.card.missed{border-top-color:var(--bad)}
.card .name{font-size:13px;color:var(--muted);min-height:34px}
.card .value{font-size:34px;font-weight:700;margin:4px 0}
.card.met .value{color:var(--ok)}.card.missed .value{color:var(--bad)}
.card.no_data .value{color:var(--none);font-size:24px}
.card .target{font-size:12px;color:var(--muted)}
.badge{display:inline-block;font-size:11px;padding:1px 7px;border-radius:9px;margin-left:6px;
background:#f3f4f6}
.met .badge{background:#dcfce7;color:var(--ok)}.missed .badge{background:#fee2e2;color:var(--bad)}
.note{color:var(--muted);font-size:12px;margin:8px 0 0}
.nodata{color:var(--none)}
table{border-collapse:collapse;font-size:11.5px;width:100%}
td,th{border-bottom:1px solid var(--line);padding:3px 4px;text-align:right;white-space:nowrap}
th{color:var(--muted);font-weight:600}td:first-child,th:first-child{text-align:left}
tr.overall td{font-weight:700;background:#f9fafb}
.scroll{overflow-x:auto}
footer{color:var(--muted);font-size:12px}
svg{max-width:100%;height:auto}
"""


DEFAULT_TARGETS = Targets()


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``</script>`` or ``<!--`` can end it early
    (``<``, ``>``, ``&`` as \\u escapes), and the JavaScript line separators escaped too."""
    text = json.dumps(value, ensure_ascii=False)
    for char in ("<", ">", "&", "\u2028", "\u2029"):
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _card(h: Headline, w: Mapping[str, str]) -> str:
    value = w["no_data"] if h.value is None else _pct(h.value)
    target = w["target_at_most" if h.at_most else "target_at_least"].format(target=f"{h.target * 100:g}%")
    badge = "" if h.status is Status.NO_DATA else f'<span class="badge">{escape(w[h.status.value])}</span>'
    counts = f" · {h.part} / {h.whole}" if h.part is not None and h.whole and h.value is not None else ""
    return (
        f'<div class="card {h.status.value}"><div class="name">{escape(w[h.key])}</div>'
        f'<div class="value">{escape(value)}</div>'
        f'<div class="target">{escape(target)}{badge}{counts}</div></div>'
    )


def _section(title: str, body: str, w: Mapping[str, str], *, empty: bool = False, note: str = "") -> str:
    if empty:
        return f'<section class="empty"><h2>{escape(title)}</h2><p>{escape(w["no_data"])}</p></section>'
    extra = f'<p class="note">{escape(note)}</p>' if note else ""
    return f"<section><h2>{escape(title)}</h2>{body}{extra}</section>"


def _td(value: Any, kind: str, w: Mapping[str, str]) -> str:
    text = cell(value, kind, w["no_data"])
    return f'<td class="nodata">{escape(text)}</td>' if value is None else f"<td>{escape(text)}</td>"


def _table(table_rows: list[dict[str, Any]], first: str, w: Mapping[str, str], language: str) -> str:
    head = "".join(f"<th>{escape(column_header(language, k, h))}</th>" for k, h, _ in TABLE_COLUMNS)
    body = "".join(
        f'<tr class="{"overall" if r["key"] == "overall" else ""}"><td>'
        + escape(w["overall"] if r["key"] == "overall" else str(r["key"]))
        + "</td>"
        + "".join(_td(r.get(n), k, w) for n, _, k in TABLE_COLUMNS)
        + "</tr>"
        for r in table_rows
    )
    return f'<div class="scroll"><table><tr><th>{escape(first)}</th>{head}</tr>{body}</table></div>'


def _heatmap(report: dict[str, Any], targets: Targets, w: Mapping[str, str]) -> str:
    grid: dict[str, Any] = report.get("heatmap") or {"offered": []}
    empty = not any(n for day in grid["offered"] for n in day)
    weekdays = w["weekdays"].split()
    body = (
        ""
        if empty
        else charts.heatmap(
            grid["three_ring_rate"], grid["offered"], weekdays, targets.three_ring_rate, w["no_data"]
        )
    )
    return _section(w["heatmap"], body, w, empty=empty, note=w["heatmap_note"])


def short_label(key: str) -> str:
    """A group's name under a chart's axis: "11-04" for a day (or a week's Monday), "09:00" for an
    hour; other names as they are."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:00", key):
        return key[11:]
    found = re.search(r"\d{4}-(\d{2}-\d{2})$", key)
    return found.group(1) if found else key


def _trend(report: dict[str, Any], targets: Targets, w: Mapping[str, str]) -> str:
    groups = report["groups"]
    labels = [short_label(str(g["key"])) for g in groups]
    rings = [g["three_ring_rate"] for g in groups]
    levels = [g["service_level"] for g in groups]
    abandons = [g["abandon_rate"] for g in groups]
    if len(groups) < 2 or all(v is None for v in rings + levels):
        return _section(w["trend"], "", w, empty=True)
    series = {w["three_ring_rate"]: rings, w["service_level"]: levels}
    trend = _section(w["trend"], charts.line_chart(labels, series, targets.three_ring_rate), w)
    empty = all(v is None for v in abandons)
    body = "" if empty else charts.bar_chart(labels, abandons, targets.abandon_rate)
    return trend + _section(w["abandonment"], body, w, empty=empty)


def _leads(report: dict[str, Any], w: Mapping[str, str]) -> str:
    sources = report["overall"].get("lead_sources", {})
    if not sources:
        return _section(w["leads"], "", w, empty=True)
    head = "".join(f"<th>{escape(w[k])}</th>" for k in ("source", "lead_count", "contacted", "rate"))
    body = "".join(
        f"<tr><td>{escape(w.get(f'source_{name}', name))}</td><td>{s['leads']}</td>"
        f"<td>{s['contacted_within_one_minute']}</td>{_td(s['rate'], 'pct', w)}</tr>"
        for name, s in sources.items()
    )
    funnel = report["funnel"]
    names = {stage["stage"]: w.get(f"stage_{stage['stage']}", stage["stage"]) for stage in funnel}
    chart = charts.waterfall(funnel, names) if funnel and funnel[0]["count"] else ""
    return _section(w["leads"], f"<table><tr>{head}</tr>{body}</table>", w) + _section(
        w["funnel"], chart + _losses(funnel, names, w), w, empty=not chart
    )


def _losses(funnel: list[dict[str, Any]], names: Mapping[str, str], w: Mapping[str, str]) -> str:
    items = [
        f"<li>{escape(names[stage['stage']])}: "
        + ", ".join(f"{escape(reason)} {count}" for reason, count in stage["lost"].items())
        + "</li>"
        for stage in funnel
        if stage["lost"]
    ]
    return (
        f"<h2>{escape(w['losses'])}</h2><ul>{''.join(items)}</ul>"
        if items
        else f'<p class="note">{escape(w["no_losses"])}</p>'
    )


def _tables(
    report: dict[str, Any], agents: list[dict[str, Any]] | None, w: Mapping[str, str], language: str
) -> str:
    """The table by the report's groups (or the overall row alone), and the one per agent."""
    by = report["by"]
    tables = _section(
        w["by"].format(by=group_word(language, by)) if by else w["by_period"],
        _table(rows(report), group_word(language, by) if by else "", w, language),
        w,
    )
    if agents:
        tables += _section(w["per_agent"], _table(agents, group_word(language, "agent"), w, language), w)
    return tables


def period_label(period: Mapping[str, Any], until: str) -> str:
    """The period's first and last days, "2026-11-01 to 2026-11-30" (an end at midnight is the
    end of the day before)."""
    start = period["from"][:10] if period["from"] else "…"
    if not period["to"]:
        return f"{start} {until} …"
    end = datetime.fromisoformat(period["to"])
    last = end - timedelta(days=1) if (end.hour, end.minute, end.second) == (0, 0, 0) else end
    return f"{start} {until} {last.date().isoformat()}"


def to_html(
    report: dict[str, Any],
    agents: list[dict[str, Any]] | None = None,
    *,
    targets: Targets = DEFAULT_TARGETS,
    language: str = "en",
    title: str | None = None,
) -> str:
    """The page of ``report`` (``agents``: its per-agent rows), read against ``targets``, in
    ``language`` (zh or en); ``title`` names it (a published report's period)."""
    w = words(language)
    period, config, overall = report["period"], report["config"], report["overall"]
    cards = "".join(_card(h, w) for h in headlines(overall, targets))
    tables = _tables(report, agents, w, language)
    rules = w["rules"].format(
        version=report["definitions_version"],
        ring=config["ring_cycle_s"],
        rings=config["ring_cycle_s"] * config["rings"],
        threshold=config["threshold_s"],
        short=config["short_abandon_s"],
        unknown=overall.get("waits_unknown", 0),
    )
    heading = title or w["title"]
    return f"""<!doctype html>
<html lang="{"zh-CN" if language == "zh" else "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(heading)}</title><style>{STYLE}</style></head><body><main>
<h1>{escape(heading)}</h1>
<p class="sub">{escape(w["period"])} {escape(period_label(period, w["until"]))}
· {escape(w["timezone"])} {escape(period["timezone"])}
· {escape(w["queue"])} {escape(report["queue"] or w["all_queues"])}</p>
{_section(w["headline"], f'<div class="cards">{cards}</div>', w)}
{_heatmap(report, targets, w)}
{_trend(report, targets, w)}
{_leads(report, w)}
{tables}
<footer>{escape(rules)}</footer>
</main>
<script type="application/json" id="report">{script_json(report)}</script>
</body></html>
"""
