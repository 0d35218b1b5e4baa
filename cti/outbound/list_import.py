"""Import a call list into a campaign: all or nothing, idempotent.

One transaction reads what the store knows of the list's numbers (the campaign's own lines,
the do-not-call list, the dial attempts and dial events of the last N days), judges every line
(``cti.outbound.call_lists``) and writes the good ones as ``leads`` rows (source ``list``,
status ``new``). An error anywhere (the database, a crash) rolls the whole file back. A number
the campaign has already is reported, not added again, and its idempotency key
(``list:<campaign>:<E.164>``) makes a second import running at the same time fail rather than
add it twice: importing the same file again adds nothing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cti.errors import CtiError
from cti.events import EventKind, to_us
from cti.outbound.call_lists import CallList, Line, Report, judge, number_lines
from cti.outbound.campaign_checks import campaign_from_row
from cti.outbound.campaign_store import CampaignNotFound
from cti.outbound.campaigns import Campaign, CampaignStatus, StatusRefused
from cti.outbound.dnc import listed
from cti.outbound.numbers import NumberPolicy
from cti.store.models import CallEventRow, CampaignRow, DialAttemptRow, LeadRow

log = logging.getLogger(__name__)
_CHUNK = 500  # numbers per IN (...): under every driver's bind-parameter limit
_IDS = uuid.UUID("0c9a3a55-4f0e-4d36-9a43-2a8f8d6c1b7e")  # the namespace of list lines' lead ids


class ImportRaced(CtiError):
    """Another import into the same campaign wrote some of the same numbers meanwhile."""


@dataclass(frozen=True)
class ListImport:
    """How to import: ``policy`` reads the numbers, ``tz`` is the center's (a line due on a day
    is due from that day's midnight there), ``dry_run`` writes nothing, ``strict`` writes
    nothing when any line is rejected; ``by``: who imports (logged)."""

    policy: NumberPolicy
    tz: tzinfo
    by: str = "unknown"  # who imports, for the log
    dry_run: bool = False
    strict: bool = False


async def import_list(
    engine: AsyncEngine, campaign_name: str, calls: CallList, how: ListImport, now: datetime
) -> Report:
    """Judge ``calls`` for campaign ``campaign_name`` and store its good lines (see the module).
    Reading the numbers takes seconds of CPU for a long list: a worker thread does it, off the
    loop that handles calls, before the transaction starts."""
    async with engine.connect() as connection:
        kind = (await _campaign(connection, campaign_name)).kind
    lines = await asyncio.to_thread(number_lines, calls, how.policy, kind)
    try:
        async with engine.begin() as connection:
            campaign = await _campaign(connection, campaign_name)  # not stopped meanwhile
            judged = await _judged(connection, campaign, lines, now)
            report = Report(calls.name, campaign.name, tuple(judged), stored=0, dry_run=how.dry_run)
            if how.dry_run:
                return report
            if how.strict and report.rejected:
                return Report(calls.name, campaign.name, report.lines, stored=0, strict_refused=True)
            stored = await _store(connection, campaign, calls.name, judged, how.tz, now)
    except IntegrityError as exc:
        raise ImportRaced(
            f"another import into campaign {campaign_name} wrote some of these numbers meanwhile: "
            "nothing of this file was stored; import it again"
        ) from exc
    log.info(
        "list %s: %d of %d lines stored in campaign %s by %s",
        calls.name,
        stored,
        len(judged),
        campaign.name,
        how.by,
    )
    return Report(calls.name, campaign.name, tuple(judged), stored=stored)


async def _campaign(connection: AsyncConnection, name: str) -> Campaign:
    row = (await connection.execute(select(CampaignRow).where(CampaignRow.name == name))).first()
    if row is None:
        raise CampaignNotFound(name)
    if row.status == CampaignStatus.STOPPED.value:
        raise StatusRefused(f"campaign {name} is stopped, which is final: its list takes no more lines")
    return campaign_from_row(
        row.name, row.title, row.kind, row.queue, row.dial_mode, row.status, row.settings
    )


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


async def _judged(
    connection: AsyncConnection, campaign: Campaign, lines: list[Line], now: datetime
) -> list[Line]:
    numbers = {line.e164 for line in lines if line.ok and line.e164}
    in_campaign: set[str] = set()
    for chunk in _chunks(numbers):
        found = await connection.execute(
            select(LeadRow.phone_number).where(
                LeadRow.campaign == campaign.name, LeadRow.phone_number.in_(chunk)
            )
        )
        in_campaign.update(found.scalars())
    days = campaign.settings.skip_called_within_days
    called = await _called(connection, lines, to_us(now - timedelta(days=days))) if days else set()
    dnc = await listed(connection, numbers)
    return judge(lines, in_campaign=in_campaign, dnc=dnc, called=called, days=days)


async def _called(connection: AsyncConnection, lines: Sequence[Line], since_us: int) -> set[str]:
    """The numbers of ``lines`` dialled since then: a dial attempt to the E.164 number, or a
    ``dial_started`` event whose number is in any form it is written in (E.164, national, 0 + national)."""
    forms = {
        form: line.e164
        for line in lines
        if line.ok and line.e164 and line.national
        for form in (line.e164, line.national, "0" + line.national)
    }
    called: set[str] = set()
    for chunk in _chunks(forms):
        attempts = await connection.execute(
            select(DialAttemptRow.number).where(
                DialAttemptRow.number.in_(chunk), DialAttemptRow.started_at_us >= since_us
            )
        )
        events = await connection.execute(
            select(CallEventRow.caller_number).where(
                CallEventRow.kind == EventKind.DIAL_STARTED.value,
                CallEventRow.caller_number.in_(chunk),
                CallEventRow.at_us >= since_us,
            )
        )
        called.update(forms[number] for number in [*attempts.scalars(), *events.scalars()] if number in forms)
    return called


async def _store(
    connection: AsyncConnection,
    campaign: Campaign,
    list_name: str,
    lines: list[Line],
    tz: tzinfo,
    now: datetime,
) -> int:
    now_us = to_us(now)
    rows = [
        {
            "lead_id": uuid.uuid5(_IDS, f"{campaign.name}/{line.e164}").hex,
            "source": "list",
            "phone_number": line.e164,
            "campaign": campaign.name,
            "created_at_us": now_us,
            "status": "new",
            "name": line.name[:200] if line.name else None,
            "idempotency_key": f"list:{campaign.name}:{line.e164}",
            "data": dict(line.data),
            "list_name": list_name[:200],
            "line_no": line.line_no,
            "attempts": 0,
            "next_attempt_at_us": None
            if line.due_on is None
            else to_us(datetime.combine(line.due_on, time(), tz)),
            "updated_at_us": now_us,
        }
        for line in lines
        if line.ok
    ]
    if rows:
        await connection.execute(insert(LeadRow), rows)
    return len(rows)
