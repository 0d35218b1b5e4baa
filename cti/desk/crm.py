"""What the desk knows about a caller: the CRM card and the number's recent calls and contacts.

Frozen records read by two adapters, in a few indexed queries on one connection (the caller's,
or one of their own), because the pop they feed has a budget of p99 < 100 ms from the agent's
phone ringing to the pop on the screen, fifty pops at once included: what a pop costs the event
loop is paid fifty times over. So the repeat calls are counted by the database, not read row by
row (a number that called a hundred times today costs one row). The decisions made from them
(what is due, what to mask, what the pop says) are pure functions elsewhere in ``cti.desk``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cti.events import EventKind, from_us, to_us
from cti.store.customers import number_forms
from cti.store.models import (
    CallEventRow,
    CaseRow,
    CustomerRow,
    InsurancePolicyRow,
    PhoneNumberRow,
    ServiceRecordRow,
    VehicleRow,
)

#: A call within this time before the current one makes it a repeat call (the pop says so).
REPEAT_WINDOW = timedelta(hours=48)
#: How many past contacts the pop lists.
CONTACTS_SHOWN = 5
#: The status of a case that is still being worked on (the pop lists only those).
OPEN = "open"


@dataclass(frozen=True)
class ServiceVisit:
    on: date
    kind: str  # first_maintenance | maintenance | repair | ...
    dealer: str | None


@dataclass(frozen=True)
class Policy:
    insurer: str
    expires_on: date
    renewal_status: str  # due | quoted | renewed | lost


@dataclass(frozen=True)
class Vehicle:
    plate: str | None
    model: str
    vin: str
    purchased_on: date | None
    services: tuple[ServiceVisit, ...]  # newest first: the due-maintenance rule reads them all
    insurance: Policy | None  # the policy that runs out last


@dataclass(frozen=True)
class Case:
    id: int
    kind: str
    status: str
    opened_at: datetime
    summary: str


@dataclass(frozen=True)
class CustomerCard:
    id: int
    name: str
    segment: str
    language: str
    phone_numbers: tuple[str, ...]
    vehicles: tuple[Vehicle, ...]
    open_cases: tuple[Case, ...]  # newest first


@dataclass(frozen=True)
class RecentCalls:
    """The number's other calls within ``REPEAT_WINDOW``: how many, and when the newest began."""

    count: int
    last_at: datetime | None


@dataclass(frozen=True)
class Contact:
    """A past call an agent answered, and how it was disposed (None: never disposed)."""

    call_id: str
    at: datetime
    queue: str | None
    agent: str | None
    disposition: str | None
    resolved: bool | None


@dataclass(frozen=True)
class CallerHistory:
    """The number's other calls in ``REPEAT_WINDOW`` and its last ``CONTACTS_SHOWN`` contacts,
    newest first; "other": the call being offered (its ``call_started`` is already stored) is
    left out of both."""

    recent: RecentCalls
    contacts: tuple[Contact, ...]


NO_HISTORY = CallerHistory(RecentCalls(0, None), ())
Store = AsyncEngine | AsyncConnection


@asynccontextmanager
async def _connected(store: Store) -> AsyncIterator[AsyncConnection]:
    """The connection to read on: the caller's, or one of the engine's for the reads' span."""
    if isinstance(store, AsyncConnection):
        yield store
        return
    async with store.connect() as connection:
        yield connection


async def read_card(store: Store, caller_number: str, customer_id: int | None = None) -> CustomerCard | None:
    """The customer ``customer_id`` names (the IVR may have identified the caller by a plate), else
    the one customer the number belongs to; None when there is none, or several (ambiguous, as
    for the IVR's lookup)."""
    async with _connected(store) as connection:
        if customer_id is None:
            customer_id = await _owner(connection, caller_number)
            if customer_id is None:
                return None
        customer = (
            await connection.execute(select(CustomerRow).where(CustomerRow.id == customer_id))
        ).first()
        if customer is None:
            return None
        phones = await connection.execute(
            select(PhoneNumberRow.number)
            .where(PhoneNumberRow.customer_id == customer_id)
            .order_by(PhoneNumberRow.number)
        )
        cases = await connection.execute(
            select(CaseRow)
            .where(CaseRow.customer_id == customer_id, CaseRow.status == OPEN)
            .order_by(CaseRow.opened_at_us.desc())
        )
        vehicles = await _vehicles(connection, customer_id)
    return CustomerCard(
        id=customer.id,
        name=customer.name,
        segment=customer.segment,
        language=customer.language,
        phone_numbers=tuple(phones.scalars()),
        vehicles=vehicles,
        open_cases=tuple(
            Case(row.id, row.kind, row.status, from_us(row.opened_at_us), row.summary) for row in cases
        ),
    )


async def _owner(connection: AsyncConnection, caller_number: str) -> int | None:
    if not caller_number:
        return None
    owners = await connection.execute(
        select(PhoneNumberRow.customer_id)
        .where(PhoneNumberRow.number.in_(number_forms(caller_number)))
        .distinct()
        .limit(2)
    )
    found = owners.scalars().all()
    return found[0] if len(found) == 1 else None


async def _vehicles(connection: AsyncConnection, customer_id: int) -> tuple[Vehicle, ...]:
    rows = (
        await connection.execute(
            select(VehicleRow).where(VehicleRow.customer_id == customer_id).order_by(VehicleRow.id)
        )
    ).all()
    if not rows:
        return ()
    ids = [row.id for row in rows]
    services: dict[int, list[ServiceVisit]] = {vehicle_id: [] for vehicle_id in ids}
    visits = await connection.execute(
        select(ServiceRecordRow)
        .where(ServiceRecordRow.vehicle_id.in_(ids))
        .order_by(ServiceRecordRow.on.desc(), ServiceRecordRow.id.desc())
    )
    for visit in visits:
        services[visit.vehicle_id].append(ServiceVisit(visit.on, visit.kind, visit.dealer))
    policies: dict[int, Policy] = {}
    for policy in await connection.execute(
        select(InsurancePolicyRow)
        .where(InsurancePolicyRow.vehicle_id.in_(ids))
        .order_by(InsurancePolicyRow.expires_on)
    ):
        policies[policy.vehicle_id] = Policy(policy.insurer, policy.expires_on, policy.renewal_status)
    return tuple(
        Vehicle(
            row.plate,
            row.model,
            row.vin,
            row.purchased_on,
            tuple(services[row.id]),
            policies.get(row.id),
        )
        for row in rows
    )


async def caller_history(store: Store, caller_number: str, now: datetime, call_id: str = "") -> CallerHistory:
    """The number's calls since ``now - REPEAT_WINDOW`` and its last contacts with their
    dispositions, from ``call_events`` (read by ``ix_call_events_caller``), leaving ``call_id``
    (the call being offered) out."""
    if not caller_number:
        return NO_HISTORY
    forms = number_forms(caller_number)
    of_number = CallEventRow.caller_number.in_(forms) & (CallEventRow.call_id != call_id)
    async with _connected(store) as connection:
        count, last_us = (
            await connection.execute(
                select(func.count(), func.max(CallEventRow.at_us)).where(
                    of_number,
                    CallEventRow.kind == EventKind.CALL_STARTED.value,
                    CallEventRow.at_us >= to_us(now - REPEAT_WINDOW),
                    CallEventRow.at_us <= to_us(now),
                )
            )
        ).one()
        # A call answered twice (a transfer) is one contact: read a few more, keep each call once.
        answered = await connection.execute(
            select(CallEventRow.call_id, CallEventRow.at_us, CallEventRow.queue, CallEventRow.agent)
            .where(of_number, CallEventRow.kind == EventKind.AGENT_ANSWERED.value)
            .order_by(CallEventRow.at_us.desc())
            .limit(4 * CONTACTS_SHOWN)
        )
        latest = _first_per_call(answered.all())[:CONTACTS_SHOWN]
        dispositions = await _dispositions(connection, [row.call_id for row in latest])
    return CallerHistory(
        recent=RecentCalls(int(count), None if last_us is None else from_us(last_us)),
        contacts=tuple(
            Contact(
                row.call_id,
                from_us(row.at_us),
                row.queue,
                row.agent,
                *dispositions.get(row.call_id, (None, None)),
            )
            for row in latest
        ),
    )


def _first_per_call(rows: Sequence[Any]) -> list[Any]:
    """Each call's first row (rows come newest first), in the rows' order."""
    first: dict[str, Any] = {}
    for row in rows:
        first.setdefault(row.call_id, row)
    return list(first.values())


async def _dispositions(
    connection: AsyncConnection, call_ids: list[str]
) -> dict[str, tuple[str | None, bool | None]]:
    """Each call's last disposition: (code, resolved)."""
    if not call_ids:
        return {}
    rows = await connection.execute(
        select(CallEventRow.call_id, CallEventRow.data)
        .where(CallEventRow.call_id.in_(call_ids), CallEventRow.kind == EventKind.DISPOSITION.value)
        .order_by(CallEventRow.at_us)
    )
    return {row.call_id: (row.data.get("code"), row.data.get("resolved")) for row in rows}
