"""Reading and writing call events. Writes are batched and idempotent (unique ``event_id``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.events import CallEvent, EventKind
from cti.store.models import CallEventRow

_TABLE = CallEventRow.__table__
_COLUMNS = (
    CallEventRow.event_id,
    CallEventRow.kind,
    CallEventRow.at_us,
    CallEventRow.call_id,
    CallEventRow.queue,
    CallEventRow.agent,
    CallEventRow.lead_id,
    CallEventRow.caller_number,
    CallEventRow.source,
    CallEventRow.data,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch (exact: no float rounding)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


def to_row(event: CallEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "kind": event.kind.value,
        "at_us": to_us(event.at),
        "call_id": event.call_id,
        "queue": event.queue,
        "agent": event.agent,
        "lead_id": event.lead_id,
        "caller_number": event.caller_number,
        "source": event.source,
        "data": dict(event.data),
    }


def from_row(row: Sequence[Any]) -> CallEvent:
    event_id, kind, at_us, call_id, queue, agent, lead_id, number, source, data = row
    return CallEvent(
        kind=EventKind(kind),
        at=from_us(at_us),
        call_id=call_id,
        queue=queue,
        agent=agent,
        lead_id=lead_id,
        caller_number=number,
        data=data or {},
        source=source,
        event_id=event_id,
    )


async def insert_events(engine: AsyncEngine, events: Iterable[CallEvent]) -> None:
    """Insert ``events`` in one transaction; an event_id already stored is skipped, not an error."""
    rows = [to_row(event) for event in events]
    if not rows:
        return
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(_TABLE).on_conflict_do_nothing(index_elements=["event_id"])
    async with engine.begin() as connection:
        await connection.execute(statement, rows)


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
    return await _load(engine, _in_period(select(*_COLUMNS), start, end))


async def events_of_leads(engine: AsyncEngine, lead_ids: Iterable[str]) -> list[CallEvent]:
    """Every event of the given leads, whenever it happened (funnel stages come weeks later)."""
    ids = sorted(set(lead_ids))
    events: list[CallEvent] = []
    for chunk in range(0, len(ids), 500):  # stay under bind-parameter limits
        query = select(*_COLUMNS).where(CallEventRow.lead_id.in_(ids[chunk : chunk + 500]))
        events.extend(await _load(engine, query))
    return events


async def call_starts_between(
    engine: AsyncEngine, start: datetime | None, end: datetime | None
) -> list[CallEvent]:
    query = select(*_COLUMNS).where(CallEventRow.kind == EventKind.CALL_STARTED.value)
    return await _load(engine, _in_period(query, start, end))
