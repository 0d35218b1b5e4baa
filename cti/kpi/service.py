"""The KPI use cases over the store: build a report, import a queue_log file."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from cti.kpi.definitions import KpiConfig
from cti.kpi.html import to_html
from cti.kpi.publish import BY, periods, title, write_atomically
from cti.kpi.queries import load_facts
from cti.kpi.queue_log import QueueLogImport, parse_queue_log
from cti.kpi.report import Period, build_report, make_period
from cti.kpi.targets import Targets
from cti.store.engine import make_engine
from cti.store.events import count_events, insert_events

IMPORT_BATCH = 5000


async def kpi_report(
    database_url: str,
    cfg: KpiConfig,
    *,
    period: Period,
    queue: str | None,
    by: str | None,
    tz: ZoneInfo,
    for_page: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``report_from`` on a database named by URL, for one-off callers (the CLI, the report
    workers of ``cti.kpi.workers``, tests)."""
    engine = make_engine(database_url)
    try:
        return await report_from(engine, cfg, period=period, queue=queue, by=by, tz=tz, for_page=for_page)
    finally:
        await engine.dispose()


async def report_from(
    engine: AsyncEngine,
    cfg: KpiConfig,
    *,
    period: Period,
    queue: str | None,
    by: str | None,
    tz: ZoneInfo,
    for_page: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The report, and (``for_page``) its heat map and per-agent rows for the HTML page."""
    with no_cyclic_gc():
        facts, history = await load_facts(engine, period, cfg)
        report = build_report(facts, history, cfg, period=period, queue=queue, by=by, tz=tz, heatmap=for_page)
        agents: list[dict[str, Any]] = []
        if for_page:
            by_agent = build_report(facts, history, cfg, period=period, queue=queue, by="agent", tz=tz)
            agents = by_agent["groups"]
        # Freed while the collector is still off: re-enabled with ~10^6 objects alive, it would
        # walk them all once more (a full collection, ~0.2 s of a month's report).
        del facts, history
    return report, agents


async def publish_reports(
    database_url: str,
    cfg: KpiConfig,
    *,
    every: str,
    directory: Path,
    today: date,
    count: int,
    tz: ZoneInfo,
    language: str,
    targets: Targets,
) -> list[Path]:
    """Write the HTML report of each of the last ``count`` complete periods (``cti.kpi.publish``)."""
    engine = make_engine(database_url)
    written: list[Path] = []
    try:
        for period in periods(every, today, count):
            span = make_period(period.first.isoformat(), period.last.isoformat(), tz)
            report, agents = await report_from(
                engine, cfg, period=span, queue=None, by=BY[every], tz=tz, for_page=True
            )
            page = to_html(report, agents, targets=targets, language=language, title=title(period, language))
            write_atomically(directory / period.path, page)
            written.append(directory / period.path)
    finally:
        await engine.dispose()
    return written


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """A month's report makes ~10^6 objects, none in a reference cycle; meanwhile CPython's cyclic
    collector would walk the whole heap again and again (about a third of the report's time,
    bench/kpi_report.py). Reference counting still frees everything; collection resumes after,
    best once the big objects are freed (else its first pass walks them all)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def import_queue_log(database_url: str, path: Path) -> tuple[QueueLogImport, int]:
    """Parse ``path`` and store its events; return the parse result and how many were new."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        parsed = parse_queue_log(handle)
    engine = make_engine(database_url)
    try:
        before = await count_events(engine)
        for start in range(0, len(parsed.events), IMPORT_BATCH):
            await insert_events(engine, parsed.events[start : start + IMPORT_BATCH])
        return parsed, await count_events(engine) - before
    finally:
        await engine.dispose()
