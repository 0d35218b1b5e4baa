"""Rendering a report (the dict of ``build_report``) as JSON, CSV or a terminal table.

A KPI with nothing to measure (a rate whose denominator is 0, a mean of nothing) is ``null`` in
JSON and reads "no data" in the table, the CSV and the HTML page: never 0 %, never a blank a
spreadsheet would sum as 0.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rich.console import Console
from rich.table import Table

# (column, header, format): the columns a manager scans first; JSON and CSV carry every key.
TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("offered", "offered", "int"),
    ("answered", "answered", "int"),
    ("abandoned", "aband.", "int"),
    ("three_ring_rate", "3 rings", "pct"),
    ("service_level", "SL", "pct"),
    ("service_level_2", "SL2", "pct"),
    ("asa_s", "ASA s", "sec"),
    ("abandon_rate", "aband. %", "pct"),
    ("aht_s", "AHT s", "sec"),
    ("agent_three_ring_rate", "agent 3 rings", "pct"),
    ("one_minute_contact_rate", "leads <1 min", "pct"),
    ("queue_callback_one_minute_contact_rate", "callbacks <1 min", "pct"),
    ("fcr_rate", "FCR", "pct"),
    ("repeat_call_rate", "repeat 48h", "pct"),
    ("appointment_rate", "appointments", "pct"),
)


NO_DATA = "no data"


def cell(value: Any, kind: str, no_data: str = NO_DATA) -> str:
    if value is None:
        return no_data
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "sec":
        return f"{value:.1f}"
    return str(value)


def rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The overall row first, then the groups, each with its ``key``."""
    return [{"key": "overall", **report["overall"]}, *report["groups"]]


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False)


def to_csv(report: dict[str, Any]) -> str:
    """Every scalar KPI per row; nested figures (per lead source) are in the JSON only."""
    all_rows = [
        {
            key: NO_DATA if value is None else value
            for key, value in row.items()
            if not isinstance(value, dict)
        }
        for row in rows(report)
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(all_rows[0]), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(all_rows)
    return out.getvalue()


def to_table(report: dict[str, Any]) -> str:
    period = report["period"]
    title = f"KPIs {period['from'] or 'start'} .. {period['to'] or 'now'} ({period['timezone']})"
    if report["queue"]:
        title += f", queue {report['queue']}"
    table = Table(title=title, caption=f"definitions {report['definitions_version']} (docs/kpi.md)")
    table.add_column(report["by"] or "", no_wrap=True)
    for _, header, _ in TABLE_COLUMNS:
        table.add_column(header, justify="right")
    for row in rows(report):
        table.add_row(str(row["key"]), *(cell(row.get(name), kind) for name, _, kind in TABLE_COLUMNS))
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text()
