"""The KPI facts of every call and lead, kept beside the event log: what a KPI report reads.

Why: a month's report used to read every event of the month (and a day around it) and fold them
into facts in Python: ~24 s for a month of 80k calls (issue 3). A call's facts depend on its own
events only and a lead's on its own (``cti.kpi.facts``), so they are derived when events are
stored, and a report is a few indexed time-range scans of compact rows, with no JSON to parse.

How the rows stay equal to ``derive_facts`` over the whole log: each ``insert_events`` transaction
recomputes, from *all* the stored events of every call and lead that got a new event, that call's
or lead's facts with the same pure code (``call_facts``, ``lead_facts``) and replaces its rows. A
call whose events come in several batches, in any order, is right once the last is in; a replayed
event inserts nothing, so recomputes nothing. Merging field by field ("set if the event is newer")
cannot do this: a call's facts are a fold over its time-ordered events (re-entering a queue opens
a new stay, a completion belongs to the last answered stay, an offer ends with the same agent's
answer or cancel), so one late event can change every row of its call.

Events of a call at the same instant are taken in storage order (``id``), as ``derive_facts``
takes them when fed the log as stored. On PostgreSQL two writers may store events of one call at
once: each takes an advisory lock before recomputing and holds it to its commit, so the last to
recompute a call reads every committed event of it (READ COMMITTED: a fresh snapshot per
statement). SQLite has a single writer. ``kpi_projection`` names the ``FACTS_VERSION`` the rows
were derived with; ``cti db upgrade`` rebuilds them all when it is not the code's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from functools import partial
from itertools import groupby
from operator import attrgetter
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import InstrumentedAttribute

from cti.events import CallEvent, to_us
from cti.kpi.facts import (
    FACTS_VERSION,
    AgentOffer,
    Contact,
    Facts,
    InboundCall,
    Lead,
    QueueStay,
    call_facts,
    lead_facts,
)
from cti.kpi.report import Period
from cti.store.models import (
    Base,
    CallEventRow,
    ContactFactRow,
    FunnelFactRow,
    InboundCallFactRow,
    LeadFactRow,
    OfferFactRow,
    ProjectionStateRow,
    StayFactRow,
)
from cti.store.rows import EVENT_COLUMNS, from_row

log = logging.getLogger(__name__)

_CHUNK = 500  # ids per IN (...), under every driver's bind-parameter limit
_LOCK = 0x6B70695F66616374  # pg_advisory_xact_lock key of the projection's writers ("kpi_fact")
_CALL_TABLES: tuple[type[Base], ...] = (StayFactRow, OfferFactRow, InboundCallFactRow, ContactFactRow)
_LEAD_TABLES: tuple[type[Base], ...] = (LeadFactRow, FunnelFactRow)
_Rows = dict[type[Base], list[dict[str, Any]]]
_Fact = TypeVar("_Fact", QueueStay, AgentOffer, InboundCall, Contact)


# -- facts as rows and back: the columns are named as the facts' fields ----------------------------


def _columns(table: type[Base], fields: Sequence[str]) -> list[Any]:
    return [table.__table__.c[name] for name in fields]


_STAY_COLUMNS = _columns(StayFactRow, QueueStay._fields)
_OFFER_COLUMNS = _columns(OfferFactRow, AgentOffer._fields)
_CALL_COLUMNS = _columns(InboundCallFactRow, InboundCall._fields)
_CONTACT_COLUMNS = _columns(ContactFactRow, Contact._fields)
_LEAD_COLUMNS = _columns(LeadFactRow, Lead._fields[:6])  # stages and losses: in kpi_funnel


def _numbered(facts: Sequence[_Fact]) -> list[dict[str, Any]]:
    """Rows of one call's facts, ``seq`` keeping their order."""
    return [{"seq": seq, **fact._asdict()} for seq, fact in enumerate(facts)]


def _call_rows(facts: Facts, rows: _Rows) -> None:
    rows[StayFactRow] += _numbered(facts.stays)
    rows[OfferFactRow] += _numbered(facts.offers)
    rows[InboundCallFactRow] += _numbered(facts.calls)
    rows[ContactFactRow] += (contact._asdict() for contact in facts.contacts)


def _lead_rows(lead: Lead, rows: _Rows) -> None:
    row = lead._asdict()
    marks = [(stage, None) for stage in sorted(row.pop("stages"))] + list(row.pop("lost"))
    rows[LeadFactRow].append(row)
    rows[FunnelFactRow] += (
        {"lead_id": lead.lead_id, "seq": seq, "stage": stage, "reason": reason}
        for seq, (stage, reason) in enumerate(marks)
    )


def _maker(fact: type[_Fact]) -> Callable[[Iterable[Any]], _Fact]:
    """Builds a fact from a row of its ``_columns``, in C: ``_make`` would add a Python call and a
    length check per row (the columns are the fact's fields, so the length is right)."""
    return partial(tuple.__new__, fact)


def _leads(lead_rows: Iterable[Sequence[Any]], funnel_rows: Iterable[Sequence[Any]]) -> list[Lead]:
    stages: dict[str, set[str]] = {}
    lost: dict[str, list[tuple[str, str]]] = {}
    for lead_id, stage, reason in funnel_rows:  # in (lead, seq) order: the losses' order
        if reason is None:
            stages.setdefault(lead_id, set()).add(stage)
        else:
            lost.setdefault(lead_id, []).append((stage, reason))
    return [
        Lead(
            lead_id,
            created_us,
            queue,
            first_dial_us,
            answered_us,
            source,
            frozenset(stages.get(lead_id, ())),
            tuple(lost.get(lead_id, ())),
        )
        for lead_id, created_us, queue, first_dial_us, answered_us, source in lead_rows
    ]


# -- writing ---------------------------------------------------------------------------------------


def _chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def _lock(connection: Connection) -> None:
    """One projection writer at a time on PostgreSQL, until this transaction ends (see above)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("select pg_advisory_xact_lock(:key)"), {"key": _LOCK})


def _stored_events(
    connection: Connection, key: InstrumentedAttribute[Any], ids: list[str]
) -> list[CallEvent]:
    """The stored events of these calls (or leads), grouped by ``key``, each group in storage order."""
    query = select(*EVENT_COLUMNS).where(key.in_(ids)).order_by(key, CallEventRow.id)
    return [from_row(row) for row in connection.execute(query)]


def _replace(
    connection: Connection, tables: Sequence[type[Base]], key: str, ids: list[str], rows: _Rows
) -> None:
    for table in tables:
        column: ColumnElement[Any] = table.__table__.c[key]
        connection.execute(delete(table).where(column.in_(ids)))
    for table, table_rows in rows.items():
        if table_rows:
            connection.execute(insert(table), table_rows)


def _recompute_calls(connection: Connection, call_ids: list[str]) -> None:
    rows: _Rows = {table: [] for table in _CALL_TABLES}
    for call_id, events in groupby(
        _stored_events(connection, CallEventRow.call_id, call_ids), attrgetter("call_id")
    ):
        try:
            facts = call_facts(call_id, events)
        except (ValueError, TypeError, OverflowError):
            # A malformed number in an event's data must not stop every later event from being stored.
            log.exception("call %s: its KPI facts cannot be derived; it is left out of reports", call_id)
            continue
        _call_rows(facts, rows)
    _replace(connection, _CALL_TABLES, "call_id", call_ids, rows)


def _recompute_leads(connection: Connection, lead_ids: list[str]) -> None:
    rows: _Rows = {table: [] for table in _LEAD_TABLES}
    for lead_id, events in groupby(
        _stored_events(connection, CallEventRow.lead_id, lead_ids), attrgetter("lead_id")
    ):
        lead = lead_facts(lead_id, events)
        if lead is not None:
            _lead_rows(lead, rows)
    _replace(connection, _LEAD_TABLES, "lead_id", lead_ids, rows)


def refresh(connection: Connection, call_ids: Collection[str], lead_ids: Collection[str]) -> None:
    """Recompute the facts of these calls and leads from their stored events (this transaction's too)."""
    if not call_ids and not lead_ids:
        return
    _lock(connection)
    for chunk in _chunks(call_ids):
        _recompute_calls(connection, chunk)
    for chunk in _chunks(lead_ids):
        _recompute_leads(connection, chunk)


def _every_id(connection: Connection, column: InstrumentedAttribute[Any]) -> Iterator[list[str]]:
    """Every non-empty value of ``column`` in call_events, sorted, a chunk at a time."""
    last = ""
    while chunk := list(
        connection.execute(
            select(column).distinct().where(column > last).order_by(column).limit(_CHUNK)
        ).scalars()
    ):
        yield chunk
        last = chunk[-1]


def rebuild(connection: Connection) -> None:
    """Recompute every call's and lead's facts from the whole log; record ``FACTS_VERSION``."""
    _lock(connection)
    if connection.dialect.name == "postgresql":
        # Without statistics (a store never analyzed, or bulk-loaded) PostgreSQL expects an IN
        # list of ids to match a tenth of the log and would scan all of it for every chunk.
        connection.execute(text("analyze call_events"))
    tables: tuple[type[Base], ...] = (*_CALL_TABLES, *_LEAD_TABLES, ProjectionStateRow)
    for table in tables:
        connection.execute(delete(table))
    for chunk in _every_id(connection, CallEventRow.call_id):
        _recompute_calls(connection, chunk)
    for chunk in _every_id(connection, CallEventRow.lead_id):
        _recompute_leads(connection, chunk)
    connection.execute(insert(ProjectionStateRow), {"facts_version": FACTS_VERSION})
    if connection.dialect.name == "postgresql":
        # Every fact was just rewritten: the statistics from before would misplan a report's range
        # scans (after an upgrade, the bench's month was expected to hold 19,729 stays of 82,192).
        names = ", ".join(table.__tablename__ for table in (*_CALL_TABLES, *_LEAD_TABLES))
        connection.execute(text(f"analyze {names}"))


def facts_version(connection: Connection) -> str | None:
    """The FACTS_VERSION the stored facts were derived with (None: never derived)."""
    return connection.execute(select(ProjectionStateRow.facts_version)).scalar()


# -- reading ---------------------------------------------------------------------------------------


def _between(column: InstrumentedAttribute[int], period: Period) -> list[ColumnElement[bool]]:
    """``period.start <= column < period.end`` (either bound may be open)."""
    bounds: list[ColumnElement[bool]] = []
    if period.start is not None:
        bounds.append(column >= to_us(period.start))
    if period.end is not None:
        bounds.append(column < to_us(period.end))
    return bounds


async def _rows(
    connection: AsyncConnection, columns: Sequence[Any], where: list[ColumnElement[bool]]
) -> Sequence[Any]:
    return (await connection.execute(select(*columns).where(*where))).all()


async def facts_between(
    engine: AsyncEngine, period: Period, calls: Period
) -> tuple[Facts, list[InboundCall]]:
    """The facts anchored in ``period`` (stays by entry, offers by ringing, calls and contacts by
    their start, leads by creation, with every funnel stage since), and the inbound calls of
    ``calls``, a wider period holding the period's own calls."""
    created = _between(LeadFactRow.created_us, period)
    funnel = (
        select(FunnelFactRow.lead_id, FunnelFactRow.stage, FunnelFactRow.reason)
        .join(LeadFactRow, LeadFactRow.lead_id == FunnelFactRow.lead_id)
        .where(*created)
        .order_by(FunnelFactRow.lead_id, FunnelFactRow.seq)
    )
    async with engine.connect() as connection:
        call_rows = await _rows(connection, _CALL_COLUMNS, _between(InboundCallFactRow.at_us, calls))
        stays = await _rows(connection, _STAY_COLUMNS, _between(StayFactRow.entered_us, period))
        offers = await _rows(connection, _OFFER_COLUMNS, _between(OfferFactRow.rang_us, period))
        contacts = await _rows(connection, _CONTACT_COLUMNS, _between(ContactFactRow.at_us, period))
        leads = await _rows(connection, _LEAD_COLUMNS, created)
        marks = (await connection.execute(funnel)).all()
    history = list(map(_maker(InboundCall), call_rows))
    start, end = period.span_us()
    facts = Facts(
        stays=tuple(map(_maker(QueueStay), stays)),
        offers=tuple(map(_maker(AgentOffer), offers)),
        calls=tuple(call for call in history if start <= call.at_us < end),
        leads=tuple(_leads(leads, marks)),
        contacts=tuple(map(_maker(Contact), contacts)),
    )
    return facts, history
