"""Benchmark: one month's KPI report over a year of call events, on SQLite and PostgreSQL.

Why it exists: ``cti kpi report`` (and ``GET /api/kpi``) derives every KPI from the call-event
log, never from counters (docs/kpi.md): from the per-call facts the store derives from the log
as events are stored (``cti.store.projection``). A care center taking ~1 million calls a year must
still get a month's report in interactive time, on the default SQLite store as well as on
PostgreSQL. This bench generates a realistic, reproducible year (fixed seed), loads it through
the store's own write path, and times the month's report through the real path
(``cti.kpi.service.kpi_report``), with its phases (``load_facts`` then ``build_report``) apart.
``--verify`` also builds the report the pre-projection way (the period's events, a day around it,
folded by ``derive_facts``) and checks the two are identical.

Run it from the repository root::

    .venv/bin/python bench/kpi_report.py                     # 1,000,000 calls, SQLite + PostgreSQL
    .venv/bin/python bench/kpi_report.py --calls 50000       # a quick check
    .venv/bin/python bench/kpi_report.py --keep              # re-time on the databases already loaded
    .venv/bin/python bench/kpi_report.py --skip-pg --profile # SQLite only, plus a cProfile of the report
    .venv/bin/python bench/kpi_report.py --keep --verify     # and check it against the events' report

PostgreSQL is ``postgresql+psycopg://cti:cti@127.0.0.1:5432/cti_test`` unless ``CTI_BENCH_PG_URL``
names another database. Its ``public`` schema is DROPPED and recreated before loading (unless
``--keep`` finds the same data already there): never point it at a database you care about. The
integration tests drop that same schema, so while they may run, give the bench its own schema::

    CTI_BENCH_PG_URL='postgresql+psycopg://cti:cti@127.0.0.1:5432/cti_test?options=-csearch_path%3Dcti_bench'

SQLite lives in /tmp/cti_kpi_bench/ (``CTI_BENCH_DIR``), deleted first, with a manifest per database
that ``--keep`` checks. Loading 6.5 M events through ``insert_events`` takes several minutes, so
the load writes each batch of events with COPY / executemany unless ``--loader api``, then, in the
same transaction, derives their calls' and leads' facts with the store's own code
(``cti.store.projection.refresh``), so the store holds what production's would; the timed report
always runs the project's real path.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import pstats
import random
import statistics
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import uvloop
from sqlalchemy import Connection, create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from cti.events import CallEvent, EventKind, to_us
from cti.kpi import KpiConfig, build_report
from cti.kpi.facts import Facts, InboundCall, derive_facts
from cti.kpi.queries import load_facts
from cti.kpi.report import Period, make_period
from cti.kpi.service import kpi_report, no_cyclic_gc
from cti.store import count_events, insert_events, make_engine
from cti.store.events import call_starts_between, events_between, events_of_leads
from cti.store.models import CallEventRow
from cti.store.projection import refresh
from cti.store.rows import to_row
from cti.store.schema import sync_url, upgrade

TZ = ZoneInfo("Asia/Shanghai")
SEED = 20261130
FIRST_DAY = date(2025, 12, 1)
QUEUES = ("sales", "service", "roadside", "complaints")
QUEUE_WEIGHTS = (25, 45, 15, 15)
AGENTS = tuple(str(n) for n in range(1001, 1031))
NUMBER_POOL = 300_000  # distinct caller numbers: a caller calls ~3 times a year
RECALL_SHARE = 0.06  # calls from a number that called moments ago (the repeat-call KPI)
LEADS_PER_CALL = 0.02  # ~20k leads for a million calls
LEAD_SOURCES = ("insurer", "web", "campaign", "ivr_callback")
MEAN_WAIT_S = 15 / math.log(1 / 0.3)  # exponential waits: P(wait < 15 s) = 70 %
BATCH = 5000  # events per insert_events call, as `cti kpi import` batches
WORK = Path(os.environ.get("CTI_BENCH_DIR", "/tmp/cti_kpi_bench"))
SQLITE_FILE = WORK / "kpi_report.sqlite"
DEFAULT_PG_URL = "postgresql+psycopg://cti:cti@127.0.0.1:5432/cti_test"
RUNS = 3
# The pre-projection report read the period's events and this much around them (a queue stay's
# outcome can come after the period ends, and its start before).
MARGIN = timedelta(days=1)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _event(kind: EventKind, key: str, k: int, at: datetime, **fields: Any) -> CallEvent:
    """An event with a reproducible id (``<call or lead>-<n>``), so a re-load stores nothing twice."""
    return CallEvent(kind=kind, at=at, event_id=f"{key}-{k}", **fields)


def _after(at: datetime, seconds: float) -> datetime:
    return at + timedelta(seconds=seconds)


class Generator:
    """A deterministic year of inbound calls and outbound leads, streamed day by day (fixed seed)."""

    def __init__(self, calls: int, months: int, seed: int = SEED) -> None:
        self.calls = calls
        self.leads = round(calls * LEADS_PER_CALL)
        self.days = (add_months(FIRST_DAY, months) - FIRST_DAY).days
        self.rnd = random.Random(seed)
        self.recent: deque[str] = deque(maxlen=2000)
        self.events = 0

    def stream(self) -> Iterator[CallEvent]:
        call_n = lead_n = 0
        for day in range(self.days):
            for at in self._day_times(day, self._share(self.calls, day)):
                events = self._inbound(call_n, at)
                call_n += 1
                self.events += len(events)
                yield from events
            for at in self._day_times(day, self._share(self.leads, day)):
                events = self._lead(lead_n, at)
                lead_n += 1
                self.events += len(events)
                yield from events

    def batches(self, size: int = BATCH) -> Iterator[list[CallEvent]]:
        batch: list[CallEvent] = []
        for event in self.stream():
            batch.append(event)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _share(self, total: int, day: int) -> int:
        return total * (day + 1) // self.days - total * day // self.days

    def _day_times(self, day: int, count: int) -> list[datetime]:
        """``count`` moments of business hours (08:00-20:00 Shanghai, peak at 10:30), in order, UTC."""
        midnight = datetime.combine(FIRST_DAY + timedelta(days=day), clock(), tzinfo=TZ).astimezone(UTC)
        seconds = sorted(self.rnd.triangular(8 * 3600, 20 * 3600, 10.5 * 3600) for _ in range(count))
        return [_after(midnight, round(s, 3)) for s in seconds]

    def _number(self) -> str:
        if self.recent and self.rnd.random() < RECALL_SHARE:
            return self.rnd.choice(self.recent)
        index = self.rnd.randrange(NUMBER_POOL)
        return f"13{(index * 7_919 + 100_003) % 10**9:09d}"  # a bijection: 300k distinct numbers

    def _inbound(self, n: int, at: datetime) -> list[CallEvent]:
        rnd = self.rnd
        call_id = f"bench-{n:07d}"
        number = self._number()
        self.recent.append(number)
        queue = rnd.choices(QUEUES, QUEUE_WEIGHTS)[0]
        common: dict[str, Any] = {"call_id": call_id, "queue": queue}
        events = [
            _event(EventKind.CALL_STARTED, call_id, 0, at, call_id=call_id, caller_number=number),
            _event(
                EventKind.QUEUE_ENTERED,
                call_id,
                1,
                at,
                **common,
                caller_number=number,
                data={"position": rnd.randint(1, 6), "priority": 0},
            ),
        ]
        outcome = rnd.random()
        if outcome < 0.85:
            events += self._answered(call_id, at, common)
        elif outcome < 0.95:
            wait = rnd.expovariate(1 / 45)
            data = {"wait_s": round(wait, 3), "position": rnd.randint(1, 8)}
            events.append(_event(EventKind.ABANDONED, call_id, 2, _after(at, wait), **common, data=data))
        elif outcome < 0.98:
            target = rnd.choice([q for q in QUEUES if q != queue])
            events.append(
                _event(
                    EventKind.OVERFLOWED,
                    call_id,
                    2,
                    _after(at, rnd.uniform(60, 120)),
                    **common,
                    data={"target": target},
                )
            )
        else:
            events.append(
                _event(EventKind.CALLBACK_REQUESTED, call_id, 2, _after(at, rnd.uniform(20, 90)), **common)
            )
        return events

    def _answered(self, call_id: str, at: datetime, common: dict[str, Any]) -> list[CallEvent]:
        rnd = self.rnd
        wait = round(rnd.expovariate(1 / MEAN_WAIT_S), 3)
        offer_delay = rnd.uniform(0, min(wait, 4.0)) if rnd.random() < 0.5 else 0.0
        agent = rnd.choice(AGENTS)
        talk = round(rnd.lognormvariate(math.log(200), 0.6), 1)
        wrapup = round(rnd.uniform(10, 90), 1)
        answered = _after(at, wait)
        completed = _after(answered, talk)
        wrapped = _after(completed, wrapup)
        resolved = rnd.random() < 0.8
        code = rnd.choice(("info", "repair", "booking", "complaint", "other"))
        return [
            _event(EventKind.AGENT_OFFERED, call_id, 2, _after(at, offer_delay), **common, agent=agent),
            _event(EventKind.AGENT_ANSWERED, call_id, 3, answered, **common, agent=agent),
            _event(EventKind.COMPLETED, call_id, 4, completed, **common, agent=agent, data={"talk_s": talk}),
            _event(
                EventKind.WRAPUP_ENDED, call_id, 5, wrapped, **common, agent=agent, data={"wrapup_s": wrapup}
            ),
            _event(
                EventKind.DISPOSITION,
                call_id,
                6,
                wrapped,
                **common,
                agent=agent,
                data={"resolved": resolved, "code": code},
            ),
        ]

    def _lead(self, n: int, at: datetime) -> list[CallEvent]:
        """A lead: created, dialled (95 %), answered by the customer (75 % of those), then its funnel."""
        rnd = self.rnd
        lead_id = f"lead-{n:06d}"
        fields: dict[str, Any] = {"lead_id": lead_id, "queue": "sales"}
        source = rnd.choice(LEAD_SOURCES)
        events = [_event(EventKind.LEAD_CREATED, lead_id, 0, at, **fields, data={"source": source})]
        if rnd.random() >= 0.95:
            return events
        call_id = f"out-{n:06d}"
        agent = rnd.choice(AGENTS)
        dialled = _after(at, rnd.lognormvariate(math.log(25), 0.9))
        events.append(
            _event(EventKind.DIAL_STARTED, lead_id, 1, dialled, **fields, call_id=call_id, agent=agent)
        )
        if rnd.random() >= 0.75:
            lost = {"stage": "contacted", "reason": "no_answer"}
            events.append(
                _event(EventKind.FUNNEL_LOST, lead_id, 2, _after(dialled, 600), **fields, data=lost)
            )
            return events
        answered = _after(dialled, rnd.uniform(5, 25))
        events.append(
            _event(EventKind.CUSTOMER_ANSWERED, lead_id, 2, answered, **fields, call_id=call_id, agent=agent)
        )
        return events + self._funnel(lead_id, fields, answered)

    def _funnel(self, lead_id: str, fields: dict[str, Any], answered: datetime) -> list[CallEvent]:
        rnd = self.rnd
        if rnd.random() >= 0.35:
            lost = {"stage": "appointment_booked", "reason": rnd.choice(("not_interested", "price", "later"))}
            return [_event(EventKind.FUNNEL_LOST, lead_id, 3, _after(answered, 120), **fields, data=lost)]
        events: list[CallEvent] = []
        moment = _after(answered, rnd.uniform(60, 300))
        # Each stage is reached by a share of the previous one, days later.
        for k, (stage, share, days) in enumerate(
            (
                ("appointment_booked", 1.0, 0),
                ("assessed", 0.6, 5),
                ("completed", 0.8, 10),
                ("surveyed", 0.5, 3),
            )
        ):
            if rnd.random() >= share:
                break
            moment = _after(moment, rnd.uniform(0, days) * 86_400)
            events.append(
                _event(EventKind.FUNNEL_STAGE, lead_id, 3 + k, moment, **fields, data={"stage": stage})
            )
        return events


# -- loading ---------------------------------------------------------------------------------------


@dataclass
class Load:
    calls: int = 0
    generated: int = 0
    generate_s: float = 0.0
    insert_s: float = 0.0
    loader: str = "insert_events"


def _progress(name: str, done: int, started: float) -> None:
    elapsed = time.perf_counter() - started
    print(f"  {name}: {done:>10,} events in {elapsed:7.1f} s ({done / elapsed:,.0f}/s)", file=sys.stderr)


def _now_and_then(name: str, url: str, done: int, batch: int, started: float) -> None:
    """Progress every 500k events; and fresh PostgreSQL statistics after the first batch and then
    as often. The projection's key lookups (``call_id IN (...)``) are planned from statistics,
    which autovacuum keeps in production; the test cluster runs without it (autovacuum = off),
    and without statistics PostgreSQL expects an IN list to match a tenth of the table and scans
    it all, for every batch."""
    if done == batch or done % 500_000 < batch:
        if make_url(url).get_backend_name() == "postgresql":
            engine = create_engine(sync_url(url))
            with engine.begin() as connection:
                connection.execute(text("analyze"))
            engine.dispose()
        if done > batch:
            _progress(name, done, started)


def _timed_batches(generator: Generator, load: Load) -> Iterator[list[CallEvent]]:
    """The generator's batches, the time spent making them added to ``load.generate_s``."""
    batches = generator.batches()
    while True:
        started = time.perf_counter()
        batch = next(batches, None)
        load.generate_s += time.perf_counter() - started
        if batch is None:
            return
        yield batch


async def load_with_api(name: str, url: str, generator: Generator, load: Load) -> None:
    """The project's write path: ``insert_events`` per batch, each in its own transaction."""
    engine = make_engine(url)
    started = time.perf_counter()
    done = 0
    try:
        for batch in _timed_batches(generator, load):
            t0 = time.perf_counter()
            await insert_events(engine, batch)
            load.insert_s += time.perf_counter() - t0
            done += len(batch)
            _now_and_then(name, url, done, len(batch), started)
    finally:
        await engine.dispose()


def load_fast(name: str, url: str, generator: Generator, load: Load) -> None:
    """Bulk path for the events only (PostgreSQL COPY, or a plain executemany of ``to_row`` on
    SQLite); their facts are derived by the store's own ``refresh`` in the same transaction."""
    copy = make_url(url).get_backend_name() == "postgresql"
    load.loader = f"{'COPY' if copy else 'executemany'} + refresh"
    engine = create_engine(sync_url(url))
    table = CallEventRow.__table__
    columns = [c.name for c in table.columns if c.name != "id"]
    started = time.perf_counter()
    done = 0
    try:
        for batch in _timed_batches(generator, load):
            t0 = time.perf_counter()
            rows = [to_row(e) for e in batch]
            with engine.begin() as connection:
                if copy:
                    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
                    with cursor.copy(f"copy call_events ({', '.join(columns)}) from stdin") as copying:
                        for row in rows:
                            copying.write_row(
                                [json.dumps(row[c]) if c == "data" else row[c] for c in columns]
                            )
                else:
                    connection.execute(insert(CallEventRow), rows)
                refresh(
                    connection,
                    {e.call_id for e in batch if e.call_id},
                    {e.lead_id for e in batch if e.lead_id},
                )
            load.insert_s += time.perf_counter() - t0
            done += len(batch)
            _now_and_then(name, url, done, len(batch), started)
    finally:
        engine.dispose()


def _bench_schema(connection: Connection) -> str:
    """The schema the bench's tables go to: the current one, or the first of the search path."""
    current = connection.execute(text("select current_schema()")).scalar()
    if current:
        return str(current)
    path = str(connection.execute(text("show search_path")).scalar())
    names = [n.strip().strip('"') for n in path.split(",") if n.strip() and n.strip() != '"$user"']
    return names[0] if names else "public"


def reset_database(url: str) -> None:
    """A fresh store: the SQLite file deleted, or the PostgreSQL schema dropped and recreated; migrated.

    The schema is the connection's current one: ``public``, unless the URL sets a search path
    (``?options=-csearch_path%3Dcti_bench``) to keep the bench apart from tests sharing the database.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
    else:
        engine = create_engine(sync_url(url))
        try:
            with engine.begin() as connection:
                current = _bench_schema(connection)
                quoted = connection.dialect.identifier_preparer.quote_identifier(current)
                connection.execute(text(f"drop schema if exists {quoted} cascade; create schema {quoted}"))
        finally:
            engine.dispose()
    upgrade(url)


async def stored_events(url: str) -> int:
    engine = make_engine(url)
    try:
        return await count_events(engine)
    finally:
        await engine.dispose()


def _manifest_path(name: str) -> Path:
    return WORK / f"{name.lower()}.json"


def reusable(name: str, url: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """``--keep``: the manifest of the last load, if it matches and the event count still does."""
    try:
        manifest: dict[str, Any] = json.loads(_manifest_path(name).read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("params") != params:
        return None
    try:
        stored = uvloop.run(stored_events(url))
    except (SQLAlchemyError, OSError):
        return None
    return manifest if stored == manifest["events"] else None


# -- timing the report -----------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    load: Load
    reused: bool
    stored: int = 0
    report_s: list[float] = field(default_factory=list)
    offered: int = 0
    phases: dict[str, float] = field(default_factory=dict)
    identical: bool | None = None  # --verify: the report from the events is the same


def report_period(months: int) -> tuple[str, Period]:
    """The last generated month (November 2026 by default), in the center's timezone."""
    first = add_months(FIRST_DAY, months - 1)
    last = add_months(FIRST_DAY, months) - timedelta(days=1)
    return first.strftime("%Y-%m"), make_period(first.isoformat(), last.isoformat(), TZ)


def run_report(url: str, period: Period) -> dict[str, Any]:
    """The real path, as ``cti kpi report --by day`` runs it."""
    report, _agents = uvloop.run(kpi_report(url, KpiConfig(), period=period, queue=None, by="day", tz=TZ))
    return report


async def reference_facts(engine: Any, period: Period, cfg: KpiConfig) -> tuple[Facts, list[InboundCall]]:
    """The facts as ``load_facts`` found them before the projection: the period's events (a day
    around it), every event of the leads created in it, and the call starts around it for the
    48 h / 7 d rules, folded by ``derive_facts`` (the reference, ``tests/`` compares them too)."""
    if period.start is None or period.end is None:
        raise ValueError("the bench's period is bounded")
    start, end = period.span_us()
    events = await events_between(engine, period.start - MARGIN, period.end + MARGIN)
    new_leads = [
        e.lead_id
        for e in events
        if e.kind is EventKind.LEAD_CREATED and e.lead_id and start <= to_us(e.at) < end
    ]
    seen = {e.event_id for e in events}
    events += [e for e in await events_of_leads(engine, new_leads) if e.event_id not in seen]
    starts = await call_starts_between(engine, period.start - cfg.repeat_window, period.end + cfg.fcr_window)
    return derive_facts(events), list(derive_facts(starts).calls)


async def _phases(url: str, period: Period, verify: bool) -> tuple[dict[str, float], bool | None]:
    """Each phase of one report, run as ``report_from`` runs them; with ``verify``, whether the
    report from the events (``reference_facts``) is the same."""
    cfg = KpiConfig()
    engine = make_engine(url)
    try:
        with no_cyclic_gc():
            t0 = time.perf_counter()
            facts, history = await load_facts(engine, period, cfg)
            t1 = time.perf_counter()
            build_report(facts, history, cfg, period=period, queue=None, by=None, tz=TZ)
            t2 = time.perf_counter()
            report = build_report(facts, history, cfg, period=period, queue=None, by="day", tz=TZ)
            t3 = time.perf_counter()
        phases = {"load_facts": t1 - t0, "build_report by=None": t2 - t1, "build_report by=day": t3 - t2}
        if not verify:
            return phases, None
        t0 = time.perf_counter()
        reference, reference_history = await reference_facts(engine, period, cfg)
        expected = build_report(reference, reference_history, cfg, period=period, queue=None, by="day", tz=TZ)
        phases["reference: events read, derive_facts, build_report"] = time.perf_counter() - t0
        return phases, expected == report
    finally:
        await engine.dispose()


def time_phases(url: str, period: Period, verify: bool) -> tuple[dict[str, float], bool | None]:
    return uvloop.run(_phases(url, period, verify))


def profile_report(url: str, period: Period, lines: int = 25) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    run_report(url, period)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    return out.getvalue()


def bench_database(name: str, url: str, args: argparse.Namespace) -> Result:
    params = {"url": url, "calls": args.calls, "months": args.months, "seed": SEED}
    manifest = reusable(name, url, params) if args.keep else None
    if manifest is not None:
        print(f"{name}: reusing the {manifest['events']:,} events already loaded (--keep)", file=sys.stderr)
        result = Result(name, Load(**manifest["load"]), reused=True)
    else:
        print(f"{name}: resetting {make_url(url).render_as_string(hide_password=True)}", file=sys.stderr)
        reset_database(url)
        generator = Generator(args.calls, args.months)
        load = Load(calls=args.calls)
        if args.loader == "fast":
            load_fast(name, url, generator, load)
        else:
            uvloop.run(load_with_api(name, url, generator, load))
        load.generated = generator.events
        result = Result(name, load, reused=False)
    result.stored = uvloop.run(stored_events(url))
    if not result.reused:
        WORK.mkdir(parents=True, exist_ok=True)
        manifest = {"params": params, "events": result.stored, "load": result.load.__dict__}
        _manifest_path(name).write_text(json.dumps(manifest, indent=1))
    month, period = report_period(args.months)
    print(f"{name}: timing the {month} report ({RUNS} runs)", file=sys.stderr)
    for _ in range(RUNS):
        t0 = time.perf_counter()
        report = run_report(url, period)
        result.report_s.append(time.perf_counter() - t0)
    result.offered = int(report["overall"]["offered"])
    result.phases, result.identical = time_phases(url, period, args.verify)
    if args.profile:
        print(f"\n== cProfile of one {month} report on {name} ==\n{profile_report(url, period)}")
    return result


# -- output ----------------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    rows = [list(r) for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)), line]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def _seconds(value: float) -> str:
    return f"{value:.2f}"


def print_results(results: Sequence[Result], month: str) -> None:
    headers = (
        "database",
        "calls",
        "events stored",
        "generate s",
        "load s",
        "loader",
        f"{month} report median s",
        "best s",
        "offered",
    )
    rows = [
        (
            r.name,
            f"{r.load.calls:,}",
            f"{r.stored:,}",
            _seconds(r.load.generate_s),
            _seconds(r.load.insert_s) + (" (kept)" if r.reused else ""),
            r.load.loader,
            _seconds(statistics.median(r.report_s)),
            _seconds(min(r.report_s)),
            f"{r.offered:,}",
        )
        for r in results
    ]
    print()
    print(_table(headers, rows))
    phase_names = list(results[0].phases)
    phase_rows = [[p, *(_seconds(r.phases[p]) for r in results)] for p in phase_names]
    if results[0].identical is not None:
        phase_rows.append(["--verify: same report from events", *(str(r.identical) for r in results)])
    print(f"\nphases of one {month} report (one run each, seconds):")
    print(_table(["phase", *(r.name for r in results)], phase_rows))
    summary = ", ".join(
        f"{r.name} {statistics.median(r.report_s):.2f} s median / {min(r.report_s):.2f} s best"
        for r in results
    )
    print(
        f"\nsummary: {results[0].load.calls:,} calls over {results[0].stored:,} events; "
        f"the {month} report ({results[0].offered:,} calls offered, by day, Asia/Shanghai): {summary}"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=1_000_000, help="inbound calls to generate")
    parser.add_argument("--months", type=int, default=12, help="months from 2025-12-01 (default 12)")
    parser.add_argument("--skip-pg", action="store_true", help="SQLite only")
    parser.add_argument(
        "--keep", action="store_true", help="reuse a database already loaded with the same data"
    )
    parser.add_argument(
        "--loader",
        choices=("api", "fast"),
        default="fast",
        help="fast: COPY / executemany + the store's refresh (default); api: cti.store.events.insert_events",
    )
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one report per database")
    parser.add_argument(
        "--verify", action="store_true", help="also derive the report from the events; check it is identical"
    )
    args = parser.parse_args(argv)
    if args.calls <= 0 or not 1 <= args.months <= 12:
        parser.error("--calls must be positive and --months between 1 and 12")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    databases = [("SQLite", f"sqlite+aiosqlite:///{SQLITE_FILE}")]
    if not args.skip_pg:
        databases.append(("PostgreSQL", os.environ.get("CTI_BENCH_PG_URL", DEFAULT_PG_URL)))
    month = report_period(args.months)[0]
    results: list[Result] = []
    for name, url in databases:
        results.append(bench_database(name, url, args))
        if len(databases) > 1:
            print_results(results[-1:], month)  # a later failure keeps this database's numbers
    print_results(results, month)
    return 1 if any(r.identical is False for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
