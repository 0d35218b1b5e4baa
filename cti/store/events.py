"""Reading and writing call events. Writes are batched and idempotent (unique ``event_id``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.events import CallEvent, EventKind, to_us
from cti.store.models import CallEventRow
from cti.store.projection import refresh
from cti.store.rows import EVENT_COLUMNS, from_row, to_row

_TABLE = CallEventRow.__table__


async def insert_events(engine: AsyncEngine, events: Iterable[CallEvent]) -> None:
    """Insert ``events`` in one transaction; an event_id already stored is skipped, not an error.

    The same transaction recomputes the KPI facts of the calls and leads that got a new event
    (``cti.store.projection``), so the facts never disagree with the committed log; a replayed
    event inserts nothing and so recomputes nothing.
    """
    rows = [to_row(event) for event in events]
    if not rows:
        return
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(_TABLE)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(CallEventRow.call_id, CallEventRow.lead_id)
    )
    async with engine.begin() as connection:
        stored = (await connection.execute(statement, rows)).all()
        calls = {call_id for call_id, _ in stored if call_id}
        await connection.run_sync(refresh, calls, {lead_id for _, lead_id in stored if lead_id})


async def count_events(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(_TABLE))).scalar_one())


async def _load(engine: AsyncEngine, query: Select[Any]) -> list[CallEvent]:
    async with engine.connect() as connection:
        result = await connection.execute(query)
        return [from_row(row) for row in result.all()]


def _in_period(query: Select[Any], start: datetime | None, end: datetime | None) -> Select[Any]:
    """``query`` narrowed to ``start <= at < end`` (either bound may be open)."""
    if start is not None:
        query = query.where(CallEventRow.at_us >= to_us(start))
    if end is not None:
        query = query.where(CallEventRow.at_us < to_us(end))
    return query


async def events_between(
    engine: AsyncEngine, start: datetime | None, end: datetime | None
) -> list[CallEvent]:
    """Events with ``start <= at < end`` (either bound may be open)."""
    return await _load(engine, _in_period(select(*EVENT_COLUMNS), start, end))


async def events_of_leads(engine: AsyncEngine, lead_ids: Iterable[str]) -> list[CallEvent]:
    """Every event of the given leads, whenever it happened (funnel stages come weeks later)."""
    ids = sorted(set(lead_ids))
    events: list[CallEvent] = []
    for chunk in range(0, len(ids), 500):  # stay under bind-parameter limits
        query = select(*EVENT_COLUMNS).where(CallEventRow.lead_id.in_(ids[chunk : chunk + 500]))
        events.extend(await _load(engine, query))
    return events


async def events_of_call(engine: AsyncEngine, call_id: str) -> list[CallEvent]:
    """Every stored event of one call, in time order (who answered it, its queue and lead)."""
    query = select(*EVENT_COLUMNS).where(CallEventRow.call_id == call_id)
    return await _load(engine, query.order_by(CallEventRow.at_us, CallEventRow.id))


async def call_starts_between(
    engine: AsyncEngine, start: datetime | None, end: datetime | None
) -> list[CallEvent]:
    query = select(*EVENT_COLUMNS).where(CallEventRow.kind == EventKind.CALL_STARTED.value)
    return await _load(engine, _in_period(query, start, end))


async def events_of_kind(
    engine: AsyncEngine, kind: EventKind, since: datetime | None = None
) -> list[CallEvent]:
    """Every event of one kind since ``since``, in time order (rebuilding live state reads these)."""
    query = select(*EVENT_COLUMNS).where(CallEventRow.kind == kind.value)
    return await _load(engine, _in_period(query, since, None).order_by(CallEventRow.at_us, CallEventRow.id))
