"""What the desk knows about a caller: the CRM card and the number's recent calls and contacts.

Frozen records read by two adapters, in a few indexed queries on one connection (the caller's,
or one of their own), because the pop they feed has a budget of p99 < 100 ms from the agent's
phone ringing to the pop on the screen, fifty pops at once included: what a pop costs the event
loop is paid fifty times over. So the repeat calls are counted by the database, not read row by
row (a number that called a hundred times today costs one row). The decisions made from them
(what is due, what to mask, what the pop says) are pure functions elsewhere in ``cti.desk``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import case, func, null, select, union_all
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

_V = TypeVar("_V")

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
    return (await read_cards(store, [(caller_number, customer_id)]))[0]


async def read_cards(store: Store, callers: Sequence[tuple[str, int | None]]) -> list[CustomerCard | None]:
    """Each caller's card (``read_card``: its number, and the customer id the IVR found, if any),
    in as many queries as one card takes: a batch of offers is one read, not one per offer."""
    async with _connected(store) as connection:
        owners = await _owners(connection, [number for number, known in callers if known is None])
        ids = [owners.get(number) if known is None else known for number, known in callers]
        wanted = sorted({customer_id for customer_id in ids if customer_id is not None})
        if not wanted:
            return [None] * len(callers)
        customers = {
            row.id: row
            for row in await connection.execute(select(CustomerRow).where(CustomerRow.id.in_(wanted)))
        }
        phones = _grouped(
            await connection.execute(
                select(PhoneNumberRow.customer_id, PhoneNumberRow.number)
                .where(PhoneNumberRow.customer_id.in_(wanted))
                .order_by(PhoneNumberRow.number)
            ),
            lambda row: row.number,
        )
        cases = _grouped(
            await connection.execute(
                select(CaseRow)
                .where(CaseRow.customer_id.in_(wanted), CaseRow.status == OPEN)
                .order_by(CaseRow.opened_at_us.desc())
            ),
            lambda row: Case(row.id, row.kind, row.status, from_us(row.opened_at_us), row.summary),
        )
        vehicles = await _vehicles(connection, wanted)
    return [
        None
        if customer_id is None or (customer := customers.get(customer_id)) is None
        else CustomerCard(
            id=customer.id,
            name=customer.name,
            segment=customer.segment,
            language=customer.language,
            phone_numbers=tuple(phones.get(customer.id, ())),
            vehicles=tuple(vehicles.get(customer.id, ())),
            open_cases=tuple(cases.get(customer.id, ())),
        )
        for customer_id in ids
    ]


def _grouped(
    rows: Iterable[Any], value: Callable[[Any], _V], key: str = "customer_id"
) -> dict[Any, list[_V]]:
    """``value`` of each row, by the row's ``key``, in the rows' order."""
    groups: dict[Any, list[_V]] = {}
    for row in rows:
        groups.setdefault(getattr(row, key), []).append(value(row))
    return groups


async def _owners(connection: AsyncConnection, numbers: Sequence[str]) -> dict[str, int]:
    """The one customer each number belongs to (in any of its forms); a number of nobody's, or
    of several customers', is left out."""
    forms = {number: number_forms(number) for number in numbers if number}
    if not forms:
        return {}
    rows = await connection.execute(
        select(PhoneNumberRow.number, PhoneNumberRow.customer_id)
        .where(PhoneNumberRow.number.in_(sorted({form for each in forms.values() for form in each})))
        .distinct()
    )
    owning = _grouped(rows, lambda row: row.customer_id, key="number")
    owners = {number: {o for form in each for o in owning.get(form, ())} for number, each in forms.items()}
    return {number: found.pop() for number, found in owners.items() if len(found) == 1}


async def _vehicles(connection: AsyncConnection, customer_ids: list[int]) -> dict[int, list[Vehicle]]:
    """The customers' vehicles, by customer, each with its services and its last-running policy."""
    rows = (
        await connection.execute(
            select(VehicleRow).where(VehicleRow.customer_id.in_(customer_ids)).order_by(VehicleRow.id)
        )
    ).all()
    if not rows:
        return {}
    ids = [row.id for row in rows]
    services = _grouped(
        await connection.execute(
            select(ServiceRecordRow)
            .where(ServiceRecordRow.vehicle_id.in_(ids))
            .order_by(ServiceRecordRow.on.desc(), ServiceRecordRow.id.desc())
        ),
        lambda visit: ServiceVisit(visit.on, visit.kind, visit.dealer),
        key="vehicle_id",
    )
    policies: dict[int, Policy] = {}
    for policy in await connection.execute(
        select(InsurancePolicyRow)
        .where(InsurancePolicyRow.vehicle_id.in_(ids))
        .order_by(InsurancePolicyRow.expires_on)
    ):
        policies[policy.vehicle_id] = Policy(policy.insurer, policy.expires_on, policy.renewal_status)
    return _grouped(
        rows,
        lambda row: Vehicle(
            row.plate,
            row.model,
            row.vin,
            row.purchased_on,
            tuple(services.get(row.id, ())),
            policies.get(row.id),
        ),
    )


async def caller_history(store: Store, caller_number: str, now: datetime, call_id: str = "") -> CallerHistory:
    """The number's calls since ``now - REPEAT_WINDOW`` and its last contacts with their
    dispositions, from ``call_events`` (read by ``ix_call_events_caller``), leaving ``call_id``
    (the call being offered) out."""
    return (await caller_histories(store, [(caller_number, call_id)], now))[0]


_ANSWERED = ("caller_number", "call_id", "at_us", "queue", "agent")


async def caller_histories(
    store: Store, calls: Sequence[tuple[str, str]], now: datetime
) -> list[CallerHistory]:
    """Each (caller number, call being offered)'s ``caller_history``, in three queries for them all.

    The calls being offered are read apart from the others (each under its own id), so that each
    is left out of its own history and of no other's: a pop says the same whatever batch of
    offers it was built with."""
    forms = {number: set(number_forms(number)) for number, _ in calls if number}
    if not forms:
        return [NO_HISTORY] * len(calls)
    of_numbers = CallEventRow.caller_number.in_(sorted(set().union(*forms.values())))
    offered = CallEventRow.call_id.in_(sorted({call_id for _, call_id in calls if call_id}))
    own = case((offered, CallEventRow.call_id), else_=null()).label("own")
    answered = of_numbers & (CallEventRow.kind == EventKind.AGENT_ANSWERED.value)
    columns = [getattr(CallEventRow, name) for name in _ANSWERED]
    # Each number's newest answers (a call answered twice, a transfer, is one contact: a few
    # more are read), and every answer of the calls being offered (each is left out of its own).
    rank = func.row_number().over(partition_by=CallEventRow.caller_number, order_by=CallEventRow.at_us.desc())
    ranked = select(*columns, rank.label("rank")).where(answered, ~offered).subquery()
    async with _connected(store) as connection:
        recent = await connection.execute(
            select(CallEventRow.caller_number, own, func.count().label("calls"), func.max(CallEventRow.at_us))
            .where(
                of_numbers,
                CallEventRow.kind == EventKind.CALL_STARTED.value,
                CallEventRow.at_us >= to_us(now - REPEAT_WINDOW),
                CallEventRow.at_us <= to_us(now),
            )
            .group_by(CallEventRow.caller_number, own)
        )
        counted = [(number, own_id, int(count), last_us) for number, own_id, count, last_us in recent]
        newest = select(*(ranked.c[name] for name in _ANSWERED)).where(ranked.c.rank <= 4 * CONTACTS_SHOWN)
        rows = sorted(
            await connection.execute(union_all(newest, select(*columns).where(answered, offered))),
            key=lambda row: row.at_us,
            reverse=True,
        )
        latest = [
            _first_per_call(
                [
                    row
                    for row in rows
                    if row.caller_number in forms.get(number, ()) and row.call_id != call_id
                ][: 4 * CONTACTS_SHOWN]
            )[:CONTACTS_SHOWN]
            for number, call_id in calls
        ]
        dispositions = await _dispositions(
            connection, sorted({row.call_id for each in latest for row in each})
        )
    return [
        _history(
            [
                (count, last_us)
                for n, own_id, count, last_us in counted
                if n in forms.get(number, ()) and own_id != call_id
            ],
            contacts,
            dispositions,
        )
        for (number, call_id), contacts in zip(calls, latest, strict=True)
    ]


def _history(
    counted: list[tuple[int, int | None]],
    latest: list[Any],
    dispositions: Mapping[str, tuple[str | None, bool | None]],
) -> CallerHistory:
    last_us = max((last for _, last in counted if last is not None), default=None)
    return CallerHistory(
        recent=RecentCalls(sum(count for count, _ in counted), None if last_us is None else from_us(last_us)),
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
