"""The dialer's SQL: the due leads it takes, and each attempt's row and outcome.

``take_due`` and ``settle``'s update of the lead stand in for the leads' own store and hopper
(``cti.outbound.lead_store.LeadStore.due``/``mark`` and ``cti.outbound.hopper.Hopper``
``take``/``done``/``later``): they are the only places the dialer reads or changes a lead, so
they are what is swapped when those land. Taking is atomic in SQL (an update from the status
read, checked by its row count), so two instances never take one lead.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.outbound.retries import DialResult, Next
from cti.store.models import DialAttemptRow, LeadRow

#: Lead statuses the dialer takes work from.
DUE = ("new", "retry")
DIALING = "dialing"


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)


@dataclass(frozen=True)
class DueLead:
    """A lead taken for one attempt: what the dialer needs of it."""

    lead_id: str
    phone_number: str
    status: str  # what it was before it was taken (``put_back`` restores it)
    source: str  # insurer | web | ivr_callback | queue_callback | list
    campaign: str | None
    name: str | None
    deadline_at: float | None  # epoch seconds: contact wanted by (leads), None for list work
    attempts: int  # made before this one

    @property
    def urgency(self) -> float:
        """Lower first: a lead's contact deadline; list work after every lead."""
        return self.deadline_at if self.deadline_at is not None else float("inf")


async def take_due(
    engine: AsyncEngine, now: float, limit: int, campaigns: Collection[str | None]
) -> list[DueLead]:
    """Up to ``limit`` due leads of ``campaigns`` (None: the leads of no campaign), most urgent
    deadline first, each now ``dialing`` and this caller's alone (SWAP AT MERGE: ``Hopper.take``)."""
    names = [name for name in campaigns if name is not None]
    if limit <= 0 or not campaigns:
        return []
    of_campaigns = LeadRow.campaign.in_(names)
    query = (
        select(LeadRow)
        .where(LeadRow.status.in_(DUE))
        .where(or_(LeadRow.campaign.is_(None), of_campaigns) if None in campaigns else of_campaigns)
        .where(or_(LeadRow.next_attempt_at_us.is_(None), LeadRow.next_attempt_at_us <= _us(now)))
        .order_by(LeadRow.deadline_at_us.asc().nulls_last(), LeadRow.created_at_us, LeadRow.lead_id)
        .limit(limit)
    )
    taken: list[DueLead] = []
    async with engine.begin() as connection:
        for row in (await connection.execute(query)).all():
            claim = (
                update(LeadRow)
                .where(LeadRow.lead_id == row.lead_id, LeadRow.status == row.status)
                .values(status=DIALING, updated_at_us=_us(now))
            )
            if (await connection.execute(claim)).rowcount == 1:
                taken.append(_due_lead(row, row.status))
    return taken


async def leased(engine: AsyncEngine, lead_id: str, status_before: str) -> DueLead | None:
    """A lead taken earlier (``dialing``) as the dialer needs it; None if it is no longer taken."""
    query = select(LeadRow).where(LeadRow.lead_id == lead_id, LeadRow.status == DIALING)
    async with engine.connect() as connection:
        row = (await connection.execute(query)).one_or_none()
    return None if row is None else _due_lead(row, status_before)


def _due_lead(row: Any, status_before: str) -> DueLead:
    deadline = None if row.deadline_at_us is None else row.deadline_at_us / 1_000_000
    return DueLead(
        row.lead_id,
        row.phone_number,
        status_before,
        row.source,
        row.campaign,
        row.name,
        deadline,
        row.attempts,
    )


async def put_back(engine: AsyncEngine, lead: DueLead, now: float, due_at: float | None = None) -> None:
    """No attempt was made (no agent came, or a rule said "not now"): the lead is due again
    as it was, or at ``due_at`` (SWAP AT MERGE: ``Hopper.later``)."""
    values: dict[str, object] = {"status": lead.status, "updated_at_us": _us(now)}
    if due_at is not None:
        values.update(status="retry", next_attempt_at_us=_us(due_at))
    async with engine.begin() as connection:
        await connection.execute(update(LeadRow).where(LeadRow.lead_id == lead.lead_id).values(**values))


async def refuse(engine: AsyncEngine, lead: DueLead, rule: str, now: float) -> None:
    """A rule forbids the number for good: the lead is ``refused`` (SWAP AT MERGE: ``LeadStore.mark``)."""
    async with engine.begin() as connection:
        await connection.execute(
            update(LeadRow)
            .where(LeadRow.lead_id == lead.lead_id)
            .values(status="refused", last_result=rule, updated_at_us=_us(now))
        )


@dataclass(frozen=True)
class Attempt:
    """One dial attempt, as ``dial_attempts`` keeps it (times epoch seconds)."""

    lead: DueLead
    call_id: str
    number: str  # E.164, as dialled
    started_at: float
    answered_at: float | None
    ended_at: float
    result: DialResult
    agent: str | None


async def settle(engine: AsyncEngine, attempt: Attempt, next_step: Next) -> None:
    """Store the attempt and what becomes of its lead, in one transaction (SWAP AT MERGE: the
    lead's part is ``LeadStore.mark`` and ``Hopper.done``/``later``)."""
    lead = attempt.lead
    async with engine.begin() as connection:
        await connection.execute(
            insert(DialAttemptRow).values(
                lead_id=lead.lead_id,
                call_id=attempt.call_id,
                started_at_us=_us(attempt.started_at),
                answered_at_us=None if attempt.answered_at is None else _us(attempt.answered_at),
                ended_at_us=_us(attempt.ended_at),
                result=attempt.result.value,
                number=attempt.number,
                campaign=lead.campaign,
                agent=attempt.agent,
            )
        )
        await connection.execute(
            update(LeadRow)
            .where(LeadRow.lead_id == lead.lead_id)
            .values(
                status=next_step.status.value,
                attempts=LeadRow.attempts + 1,
                last_result=attempt.result.value,
                next_attempt_at_us=None if next_step.due_at is None else _us(next_step.due_at),
                updated_at_us=_us(attempt.ended_at),
            )
        )
