"""Campaigns in the SQL store (``campaigns``), their status changes, and their progress read
from their lines (``leads``), their dial attempts and the events of their leads.

A status change is one conditional UPDATE (``where status = <what it was>``): two managers
pressing pause and stop at once cannot both win on a stale read. Stopping a campaign stops its
lines that are still waiting (``new``, ``retry``) in the same transaction, so nothing dials them
again; a line being dialled finishes its call. Who changed what is logged (``by``); a campaign's
status is no call, agent or lead, so it is not a call event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import Select, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cti.errors import CtiError
from cti.events import EventKind, to_us
from cti.outbound.campaign_checks import campaign_from_row
from cti.outbound.campaigns import Campaign, CampaignStatus, StatusRefused, change_status
from cti.store.models import CallEventRow, CampaignRow, DialAttemptRow, LeadRow

log = logging.getLogger(__name__)

#: Lines still waiting for a dial: a stopped campaign stops them.
WAITING = ("new", "retry")
#: Results of a live answer (a person picked up): ``abandoned`` is one that got no agent in time.
LIVE_ANSWERS = ("answered", "abandoned")


class CampaignNotFound(CtiError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no campaign {name!r}")


class CampaignExists(CtiError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"campaign {name!r} exists already: choose another name")


@dataclass(frozen=True)
class Progress:
    """How far a campaign is. ``answered``: attempts a person picked up (``answered`` or
    ``abandoned``); ``contacted``: lines whose customer reached an agent; ``right_party``: lines
    with a disposition that says the agent spoke with the right person (None: the center's
    dispositions were not given); ``appointments``: lines that booked one; ``abandon_rate``:
    abandoned over answered (None before any answer: no data is not 0 %)."""

    lines: int
    by_status: Mapping[str, int]
    attempts: int
    answered: int
    contacted: int
    right_party: int | None
    appointments: int
    abandoned: int

    @property
    def abandon_rate(self) -> float | None:
        return self.abandoned / self.answered if self.answered else None

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "by_status": dict(self.by_status),
            "attempts": self.attempts,
            "answered": self.answered,
            "contacted": self.contacted,
            "right_party": self.right_party,
            "appointments": self.appointments,
            "abandoned": self.abandoned,
            "abandon_rate": self.abandon_rate,
        }


def _now() -> datetime:
    return datetime.now(UTC)


def _campaign(row: Any) -> Campaign:
    return campaign_from_row(
        row.name, row.title, row.kind, row.queue, row.dial_mode, row.status, row.settings
    )


class CampaignStore:
    """``right_party_codes``: the disposition codes flagged ``right_party``
    (``Dispositions.right_party_codes``); ``tz``: the center's, whose today a schedule's end
    is compared with."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        right_party_codes: Collection[str] | None = None,
        tz: tzinfo = UTC,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._engine = engine
        self._right_party = None if right_party_codes is None else frozenset(right_party_codes)
        self._tz = tz
        self._clock = clock

    @property
    def tz(self) -> tzinfo:
        """The center's timezone: the one whose days a campaign's schedule counts."""
        return self._tz

    @property
    def engine(self) -> AsyncEngine:
        """The store's engine (a list import runs its own transaction on it)."""
        return self._engine

    async def create(self, campaign: Campaign, by: str) -> Campaign:
        """Store a new campaign (``CampaignExists`` if its name is taken)."""
        now = to_us(self._clock())
        values = {**self._columns(campaign), "name": campaign.name, "status": campaign.status.value}
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    insert(CampaignRow).values(**values, created_at_us=now, updated_at_us=now)
                )
        except IntegrityError as exc:
            raise CampaignExists(campaign.name) from exc
        log.info("campaign %s created by %s (%s, queue %s)", campaign.name, by, campaign.kind, campaign.queue)
        return campaign

    async def update(self, campaign: Campaign, by: str) -> Campaign:
        """Write ``campaign``'s title, kind, queue, dial mode and settings (not its status: that
        is ``set_status``'s); a campaign stopped meanwhile is not changed (``StatusRefused``)."""
        async with self._engine.begin() as connection:
            done = await connection.execute(
                update(CampaignRow)
                .where(CampaignRow.name == campaign.name, CampaignRow.status != CampaignStatus.STOPPED.value)
                .values(**self._columns(campaign), updated_at_us=to_us(self._clock()))
            )
            if done.rowcount == 0:
                stored = await self._read(connection, campaign.name)
                raise StatusRefused(f"campaign {stored.name} is stopped, which is final: create a new one")
        log.info("campaign %s updated by %s", campaign.name, by)
        return await self.require(campaign.name)

    @staticmethod
    def _columns(campaign: Campaign) -> dict[str, Any]:
        return {
            "title": campaign.title,
            "kind": campaign.kind.value,
            "queue": campaign.queue,
            "dial_mode": campaign.dial_mode.value,
            "settings": campaign.settings.to_json(),
        }

    async def get(self, name: str) -> Campaign | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(CampaignRow).where(CampaignRow.name == name))).first()
        return None if row is None else _campaign(row)

    async def require(self, name: str) -> Campaign:
        """``get``, or ``CampaignNotFound``."""
        async with self._engine.connect() as connection:
            return await self._read(connection, name)

    async def _read(self, connection: AsyncConnection, name: str) -> Campaign:
        row = (await connection.execute(select(CampaignRow).where(CampaignRow.name == name))).first()
        if row is None:
            raise CampaignNotFound(name)
        return _campaign(row)

    async def all(self) -> list[Campaign]:
        """Every campaign, newest first."""
        return await self._select(
            select(CampaignRow).order_by(CampaignRow.created_at_us.desc(), CampaignRow.name)
        )

    async def running(self) -> list[Campaign]:
        """The campaigns the dialer works on now (by name)."""
        return await self._select(
            select(CampaignRow)
            .where(CampaignRow.status == CampaignStatus.RUNNING.value)
            .order_by(CampaignRow.name)
        )

    async def _select(self, query: Select[Any]) -> list[Campaign]:
        async with self._engine.connect() as connection:
            return [_campaign(row) for row in await connection.execute(query)]

    async def set_status(self, name: str, status: CampaignStatus | str, by: str) -> Campaign:
        """Move campaign ``name`` to ``status`` as ``change_status`` allows (``StatusRefused``
        says why not; ``CampaignNotFound``); stopping it stops its waiting lines too."""
        to = CampaignStatus(status)
        now = self._clock()
        async with self._engine.begin() as connection:
            before = await self._read(connection, name)
            after = change_status(before, to, now.astimezone(self._tz).date())
            done = await connection.execute(
                update(CampaignRow)
                .where(CampaignRow.name == name, CampaignRow.status == before.status.value)
                .values(status=to.value, updated_at_us=to_us(now))
            )
            if done.rowcount == 0:  # changed since it was read: judge again against what it is now
                raced = await self._read(connection, name)
                change_status(raced, to, now.astimezone(self._tz).date())
                raise StatusRefused(f"campaign {name} changed meanwhile to {raced.status}: try again")
            stopped = 0
            if to == CampaignStatus.STOPPED:
                stopped = await self._stop_lines(connection, name, to_us(now))
        log.info(
            "campaign %s: %s -> %s by %s (%d waiting lines stopped)", name, before.status, to, by, stopped
        )
        return after

    @staticmethod
    async def _stop_lines(connection: AsyncConnection, name: str, now_us: int) -> int:
        done = await connection.execute(
            update(LeadRow)
            .where(LeadRow.campaign == name, LeadRow.status.in_(WAITING))
            .values(status="stopped", updated_at_us=now_us)
        )
        return int(done.rowcount)

    async def progress(self, name: str) -> Progress:
        """``CampaignNotFound`` for an unknown campaign."""
        lines = select(LeadRow.lead_id).where(LeadRow.campaign == name).scalar_subquery()
        async with self._engine.connect() as connection:
            await self._read(connection, name)
            statuses = await connection.execute(
                select(LeadRow.status, func.count()).where(LeadRow.campaign == name).group_by(LeadRow.status)
            )
            by_status = {status: int(count) for status, count in statuses}
            attempts = (
                await connection.execute(self._attempts().where(DialAttemptRow.lead_id.in_(lines)))
            ).one()
            events = await connection.execute(
                select(CallEventRow.kind, CallEventRow.lead_id, CallEventRow.data).where(
                    CallEventRow.lead_id.in_(lines),
                    CallEventRow.kind.in_((EventKind.DISPOSITION.value, EventKind.APPOINTMENT_BOOKED.value)),
                )
            )
            right_party, booked = self._contacts(events.all())
        return Progress(
            lines=sum(by_status.values()),
            by_status=by_status,
            attempts=int(attempts.attempts),
            answered=int(attempts.answered or 0),
            contacted=int(attempts.contacted),
            right_party=right_party,
            appointments=booked,
            abandoned=int(attempts.abandoned or 0),
        )

    @staticmethod
    def _attempts() -> Select[*tuple[Any, ...]]:
        answered = DialAttemptRow.result == "answered"
        return select(
            func.count().label("attempts"),
            func.sum(case((DialAttemptRow.result.in_(LIVE_ANSWERS), 1), else_=0)).label("answered"),
            func.sum(case((DialAttemptRow.result == "abandoned", 1), else_=0)).label("abandoned"),
            func.count(func.distinct(case((answered, DialAttemptRow.lead_id)))).label("contacted"),
        )

    def _contacts(self, events: Sequence[Any]) -> tuple[int | None, int]:
        """(lines with a right-party disposition, lines that booked an appointment)."""
        booked = {lead for kind, lead, _ in events if kind == EventKind.APPOINTMENT_BOOKED.value}
        if self._right_party is None:
            return None, len(booked)
        right = {
            lead
            for kind, lead, data in events
            if kind == EventKind.DISPOSITION.value and (data or {}).get("code") in self._right_party
        }
        return len(right), len(booked)
