"""The KPI facts the store keeps (``cti.store.projection``) give the very report the events give.

The reference is the pure path: the log as stored (first copy of each event, in storage order)
folded by ``derive_facts``, then ``build_report``. The store gets the same events shuffled, in
batches, so a call's events arrive in several batches and out of order, with some batches
replayed; every report (periods, queue, grouping, settings) must be equal, float for float.
"""

import asyncio
import random
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import create_engine, delete, insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.errors import SchemaOutdated
from cti.events import CallEvent, EventKind
from cti.kpi import GROUP_BY, KpiConfig, Period, build_report, derive_facts
from cti.kpi.service import report_from
from cti.store import count_events, insert_events, make_engine, schema
from cti.store.models import CallEventRow, ProjectionStateRow, StayFactRow
from cti.store.projection import refresh
from cti.store.rows import to_row
from tests.integration.conftest import reset_database
from tests.unit.kpi_events import VariedEvents, at, ev

TZ = ZoneInfo("Asia/Shanghai")
DAY = 86400
CASES: list[tuple[Period, str | None, str | None, KpiConfig]] = [
    (Period(), None, None, KpiConfig()),
    *((Period(at(2 * DAY), at(6.5 * DAY)), None, by, KpiConfig()) for by in GROUP_BY),
    (Period(at(3 * DAY), None), "sales", "agent", KpiConfig(short_abandon_s=2, threshold_s=10)),
    (Period(None, at(4 * DAY)), "vip", "hour", KpiConfig(ring_cycle_s=6, repeat_window=timedelta(hours=12))),
    (Period(at(1 * DAY), at(8 * DAY)), None, "queue", KpiConfig(fcr_window=timedelta(days=2))),
]


def as_stored(batches: Sequence[Sequence[CallEvent]]) -> list[CallEvent]:
    """The log the store holds after these batches: each event's first copy, in storage order."""
    seen: set[str] = set()
    log: list[CallEvent] = []
    for event in (event for batch in batches for event in batch):
        if event.event_id not in seen:
            seen.add(event.event_id)
            log.append(event)
    return log


async def assert_reports_agree(engine: AsyncEngine, log: Sequence[CallEvent]) -> None:
    reference = derive_facts(log)
    for period, queue, by, cfg in CASES:
        expected = build_report(reference, reference.calls, cfg, period=period, queue=queue, by=by, tz=TZ)
        actual, _ = await report_from(engine, cfg, period=period, queue=queue, by=by, tz=TZ)
        assert actual == expected, (period, queue, by, cfg)


def shuffled_batches(events: list[CallEvent], seed: int) -> list[list[CallEvent]]:
    """Batches of random sizes, then replays: one whole batch again, and old events among new."""
    rnd = random.Random(seed)
    batches: list[list[CallEvent]] = []
    start = 0
    while start < len(events):
        size = rnd.randint(1, 400)
        batches.append(events[start : start + size])
        start += size
    middle = len(batches) // 2
    batches.insert(middle, batches[0])
    batches[-1] = rnd.sample(batches[1], min(30, len(batches[1]))) + batches[-1]
    return batches


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_given_shuffled_batches_and_replays_then_the_report_is_the_events_report(
    store: AsyncEngine, seed: int
) -> None:
    batches = shuffled_batches(VariedEvents(seed).events, seed)
    for batch in batches:
        await insert_events(store, batch)
    log = as_stored(batches)
    assert await count_events(store) == len(log)
    await assert_reports_agree(store, log)


async def test_a_call_completed_in_a_later_batch_is_recomputed_whole(store: AsyncEngine) -> None:
    start = [
        ev(EventKind.CALL_STARTED, 0, "a", caller_number="13911112222"),
        ev(EventKind.QUEUE_ENTERED, 0, "a", queue="sales", caller_number="13911112222"),
    ]
    # The outcome arrives first, the conversation and a second stay's entry later, out of order.
    later = [
        ev(EventKind.QUEUE_ENTERED, 200, "a", queue="vip"),
        ev(EventKind.COMPLETED, 100, "a", queue="sales", agent="1001", data={"talk_s": 90}),
    ]
    outcome = [ev(EventKind.AGENT_ANSWERED, 10, "a", queue="sales", agent="1001")]
    for batch in (start, outcome, later, outcome):
        await insert_events(store, batch)
    report, _ = await report_from(store, KpiConfig(), period=Period(), queue=None, by="queue", tz=TZ)
    assert (report["overall"]["offered"], report["overall"]["answered"], report["overall"]["handled"]) == (
        2,
        1,
        1,
    )
    await assert_reports_agree(store, start + outcome + later)


async def test_a_store_upgraded_from_0001_reports_the_same(database_url: str) -> None:
    reset_database(database_url)
    command.upgrade(schema.alembic_config(database_url), "0001")
    log = VariedEvents(4).events
    engine = create_engine(schema.sync_url(database_url))
    with engine.begin() as connection:
        connection.execute(insert(CallEventRow), [to_row(event) for event in log])
    engine.dispose()
    expected = rf"is at revision 0001, expected {schema.head_revision()}: run `cti db upgrade`"
    with pytest.raises(SchemaOutdated, match=expected):
        schema.ensure_schema(database_url)

    schema.upgrade(database_url)
    schema.ensure_schema(database_url)
    store = make_engine(database_url)
    try:
        await assert_reports_agree(store, log)
    finally:
        await store.dispose()
        reset_database(database_url)


async def test_facts_of_another_version_are_refused_then_recomputed_by_upgrade(
    store: AsyncEngine, database_url: str
) -> None:
    log = VariedEvents(5).events
    await insert_events(store, log)
    async with store.begin() as connection:
        await connection.execute(update(ProjectionStateRow).values(facts_version="kpi-facts/old"))
        await connection.execute(delete(StayFactRow))
    with pytest.raises(
        SchemaOutdated, match=r"holds KPI facts of kpi-facts/old, expected .*: run `cti db upgrade`"
    ):
        schema.ensure_schema(database_url)

    schema.upgrade(database_url)
    schema.ensure_schema(database_url)
    await assert_reports_agree(store, log)


async def test_a_second_writer_of_a_call_waits_for_the_first_to_commit(store: AsyncEngine) -> None:
    """Without the wait, the second would recompute the call from its own event alone: the
    abandon without the entry, so no stay; then the first commits a stay still waiting."""
    entered = [
        ev(EventKind.CALL_STARTED, 0, "a", caller_number="13911112222"),
        ev(EventKind.QUEUE_ENTERED, 0, "a", queue="sales"),
    ]
    abandoned = ev(EventKind.ABANDONED, 30, "a", queue="sales")
    async with store.begin() as first:
        await first.execute(insert(CallEventRow), [to_row(event) for event in entered])
        await first.run_sync(refresh, {"a"}, set())
        second = asyncio.create_task(insert_events(store, [abandoned]))
        await asyncio.sleep(0.5)
        assert not second.done()
    await second
    report, _ = await report_from(store, KpiConfig(), period=Period(), queue=None, by=None, tz=TZ)
    assert (report["overall"]["offered"], report["overall"]["abandoned"]) == (1, 1)


async def test_a_call_whose_facts_cannot_be_derived_is_left_out_and_the_rest_is_stored(
    store: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    broken = [
        ev(EventKind.QUEUE_ENTERED, 0, "broken", queue="sales"),
        ev(EventKind.ABANDONED, 5, "broken", queue="sales", data={"wait_s": "five"}),
    ]
    fine = [ev(EventKind.QUEUE_ENTERED, 0, "fine", queue="sales"), ev(EventKind.ABANDONED, 5, "fine")]
    await insert_events(store, broken + fine)
    assert await count_events(store) == 4
    report: dict[str, Any]
    report, _ = await report_from(store, KpiConfig(), period=Period(), queue=None, by=None, tz=TZ)
    assert (report["overall"]["offered"], report["overall"]["abandoned"]) == (1, 1)
    assert "call broken: its KPI facts cannot be derived" in caplog.text
